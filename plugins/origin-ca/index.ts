// Built-in plugin: the edge's origin CA (mutual TLS, zone certificates, login) and the connector's cert.pem.
import path from 'node:path';
import { z } from 'zod';
import { definePlugin } from '../../core/plugin.ts';
import { ApiError } from '../../core/edge/api-server.ts';
import { RegistrationRefused } from '../../core/edge/hooks.ts';
import { TunnelRegistryToken } from '../../core/edge/registry.ts';
import { EDGE_SERVER_NAME } from '../../core/transport/protocol.ts';
import { splitHostPort, formatHostPort } from '../../core/edge/edge.ts';
import { burrowHome } from '../../core/kernel/config.ts';
import { readCredentialsFile } from '../../core/connector/credentials-file.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { hostnameInZones, peerIdentity, signZoneCertificate } from './ca.ts';
import { loadOrCreateCa, loadOrCreateServerCertificate } from './ca-store.ts';
import { readOriginCert } from './cert-file.ts';
import { checkCertificateExpiry } from './expiry.ts';
import { OriginCaToken, type LoginResponse, type OriginCa } from './service.ts';
import { decodeTunnelToken } from './tunnel-token.ts';

export type { LoginResponse } from './service.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const options = z
  .strictObject({
    /** Validity of zone and tunnel certificates the edge signs. */
    validityDays: z.number().positive().max(3650).default(365),
    /** The connector warns when its certificate expires within this many days. */
    expiryWarningDays: z.number().int().min(0).max(365).default(30),
  })
  .prefault({});

export default definePlugin({
  id: 'origin-ca',
  description: 'Origin CA on the edge; client certificates and tunnel credentials on the connector',
  options,

  async edge(api, opts) {
    const { settings } = api;
    const ca = await loadOrCreateCa(settings.dataDir, { commonName: `Burrow origin CA (${settings.pop})` });
    const server = await loadOrCreateServerCertificate(settings.dataDir, ca, { dnsNames: [EDGE_SERVER_NAME, 'localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    let tunnelAddress = settings.listen.tunnel;
    api.hooks.afterListen.tap('origin-ca', (addresses) => {
      tunnelAddress = addresses.tunnel;
    });
    const edgeAddresses = (apiHost: string | undefined) => ({ api: `http://${apiHost}`, tunnel: advertisedTunnel(settings.advertise, tunnelAddress, apiHost) });
    const sign = (csrPem: string, zones: string[], tunnelId?: string, validityDays = opts.validityDays) =>
      signZoneCertificate(ca, csrPem, { zones, tunnelId, validityDays }).catch((error: Error) => {
        throw new ApiError(400, `certificate request refused: ${error.message}`, 'send a PKCS#10 request for an ECDSA P-256 key, as `burrow login` does');
      });

    const service: OriginCa = {
      caPem: ca.certPem,
      async login(csrPem, zones, apiHost) {
        const signed = await sign(csrPem, zones);
        api.log.info({ zones, serial: signed.serialNumber, notAfter: signed.notAfter }, 'issued a zone certificate');
        return { certificate: signed.certPem, ca: ca.certPem, zones, edge: edgeAddresses(apiHost), apiToken: api.auth.issueZoneToken(zones) };
      },
      async tunnelCertificate(csrPem, tunnel, apiHost, validityDays) {
        const signed = await sign(csrPem, [tunnel.zone], tunnel.id, validityDays);
        api.log.info({ tunnel: tunnel.name, serial: signed.serialNumber, notAfter: signed.notAfter }, 'issued a tunnel certificate');
        return { certificate: signed.certPem, ca: ca.certPem, notAfter: signed.notAfter.toISOString(), edge: edgeAddresses(apiHost) };
      },
    };
    api.services.provide(OriginCaToken, service);

    api.hooks.prepareTunnelTls.tap('origin-ca', (tls) => ({ ...tls, key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true }));

    // The client certificate must cover the zone the tunnel belongs to, and a tunnel-bound one only its tunnel.
    api.hooks.beforeRegister.tap('origin-ca', ({ tunnel, peerCertificate }) => {
      const identity = peerIdentity(peerCertificate?.subjectaltname);
      if (identity.tunnelId !== undefined && identity.tunnelId !== tunnel.id.toLowerCase()) {
        throw new RegistrationRefused(`the client certificate may only run tunnel ${identity.tunnelId}, not tunnel ${tunnel.name}`, false);
      }
      if (!identity.zones.includes(tunnel.zone)) {
        throw new RegistrationRefused(`the client certificate is for ${identity.zones.join(', ') || 'no zone'}, but tunnel ${tunnel.name} belongs to ${tunnel.zone}`, false);
      }
    });

    api.hooks.beforeRouteHostname.tap('origin-ca', ({ hostname, tunnel }) => {
      if (!hostnameInZones(hostname, [tunnel.zone])) {
        throw new ApiError(400, `${hostname} is outside the zone ${tunnel.zone} of tunnel ${tunnel.name}`, `route a hostname under ${tunnel.zone}`);
      }
    });

    // Login with the admin token, and renewal with the zone token from cert.pem: a zone token only gets its own zones.
    api.route(
      'POST',
      '/v1/login',
      async (req) => {
        const body = await req.json<{ csr?: string; zone?: string }>();
        if (typeof body.csr !== 'string' || body.csr === '') throw new ApiError(400, 'missing csr', 'send { "csr": "<PEM certificate request>" }');
        const allowed = req.principal.zones;
        const zones = body.zone ? [body.zone] : [...allowed];
        if (settings.zones.length === 0) throw new ApiError(400, 'this edge serves no zones', 'add zones to edge.zones in the edge config');
        const unknown = zones.filter((zone) => !settings.zones.includes(zone));
        if (unknown.length) throw new ApiError(400, `this edge does not serve ${unknown.join(', ')}`, `pick one of ${settings.zones.join(', ')}`);
        const forbidden = zones.filter((zone) => !allowed.includes(zone));
        if (forbidden.length) throw new ApiError(403, `this token may not log in to ${forbidden.join(', ')}`, 'use the edge admin token');
        if (zones.length === 0) throw new ApiError(400, 'no zone to log in to');
        const response: LoginResponse = await service.login(body.csr, zones, req.raw.headers.host);
        return { json: response };
      },
      { auth: 'zone' },
    );

    // A certificate that can run only this tunnel: what `burrow tunnel token` packs into the token.
    api.route(
      'POST',
      '/v1/tunnels/:ref/certificate',
      async (req) => {
        const body = await req.json<{ csr?: string }>();
        if (typeof body.csr !== 'string' || body.csr === '') throw new ApiError(400, 'missing csr', 'send { "csr": "<PEM certificate request>" }');
        const tunnel = await api.services.get(TunnelRegistryToken).getTunnel(req.params.ref!, req.principal.zones);
        if (!tunnel) throw new ApiError(404, `no tunnel "${req.params.ref}"`, 'see `burrow tunnel list`');
        return { json: await service.tunnelCertificate(body.csr, tunnel, req.raw.headers.host) };
      },
      { auth: 'zone' },
    );
  },

  connector(api, opts) {
    const warnIfExpiring = (certPem: string, source: string, renewHint: string) => {
      const warning = checkCertificateExpiry(certPem, { source, warnDays: opts.expiryWarningDays, renewHint });
      if (warning) api.log.warn(warning);
    };

    api.hooks.resolveCredentials.tapPromise('origin-ca', async (query) => {
      if (query.token) {
        const token = decodeTunnelToken(query.token);
        warnIfExpiring(token.certPem, 'the tunnel token', 'make a new token with `burrow tunnel token NAME`');
        return {
          tunnelId: token.tunnelId,
          tunnelSecret: token.secret,
          tunnelName: token.tunnelName,
          tls: { caPem: token.caPem, certPem: token.certPem, keyPem: token.keyPem },
          edge: token.edge,
        };
      }
      const certFile = query.originCert ? path.resolve(query.configDir, query.originCert) : path.join(burrowHome(), 'cert.pem');
      const cert = await readOriginCert(certFile);
      warnIfExpiring(cert.certPem, certFile, 'renew it with `burrow login --renew`');
      let credentialsFile = query.credentialsFile ? path.resolve(query.configDir, query.credentialsFile) : undefined;
      if (!credentialsFile && query.tunnel) {
        const id = UUID.test(query.tunnel)
          ? query.tunnel
          : (await new EdgeClient(cert.edge.api, cert.apiToken).request<{ tunnel: { id: string } }>('GET', `/v1/tunnels/${encodeURIComponent(query.tunnel)}`)).tunnel.id;
        credentialsFile = path.join(burrowHome(), `${id}.json`);
      }
      if (!credentialsFile) return undefined;
      const credentials = await readCredentialsFile(credentialsFile);
      return {
        tunnelId: credentials.TunnelID,
        tunnelSecret: credentials.TunnelSecret,
        tunnelName: credentials.TunnelName,
        tls: { caPem: cert.caPem, certPem: cert.certPem, keyPem: cert.keyPem },
        edge: cert.edge.tunnel,
      };
    });
  },
});

/** The tunnel address to hand a connector: the configured one, else the host it reached the API on. */
function advertisedTunnel(advertise: string | undefined, listening: string, apiHost: string | undefined): string {
  if (advertise) return advertise;
  const { host, port } = splitHostPort(listening);
  const wildcard = host === '0.0.0.0' || host === '::';
  const apiHostname = apiHost?.startsWith('[') ? apiHost.slice(1, apiHost.indexOf(']')) : apiHost?.split(':')[0];
  return formatHostPort(wildcard && apiHostname ? apiHostname : host, port);
}
