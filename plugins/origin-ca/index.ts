// Built-in plugin: the edge's origin CA (mutual TLS, zone certificates, login) and the connector's cert.pem.
import path from 'node:path';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { ApiError } from '../../core/edge/api-server.ts';
import { RegistrationRefused } from '../../core/edge/hooks.ts';
import { EDGE_SERVER_NAME } from '../../core/transport/protocol.ts';
import { splitHostPort, formatHostPort } from '../../core/edge/edge.ts';
import { burrowHome } from '../../core/kernel/config.ts';
import { readCredentialsFile } from '../../core/connector/credentials-file.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { hostnameInZones, signZoneCertificate } from './ca.ts';
import { loadOrCreateCa, loadOrCreateServerCertificate } from './ca-store.ts';
import { readOriginCert } from './cert-file.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface LoginResponse {
  certificate: string;
  ca: string;
  zones: string[];
  edge: { api: string; tunnel: string };
  apiToken: string;
}

export default definePlugin({
  id: 'origin-ca',
  description: 'Origin CA on the edge; client certificates and tunnel credentials on the connector',

  async edge(api) {
    const { settings } = api;
    const ca = await loadOrCreateCa(settings.dataDir, { commonName: `Burrow origin CA (${settings.pop})` });
    const server = await loadOrCreateServerCertificate(settings.dataDir, ca, { dnsNames: [EDGE_SERVER_NAME, 'localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    let tunnelAddress = settings.listen.tunnel;
    api.hooks.afterListen.tap('origin-ca', (addresses) => {
      tunnelAddress = addresses.tunnel;
    });

    api.hooks.prepareTunnelTls.tap('origin-ca', (options) => ({ ...options, key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true }));

    // The client certificate must cover the zone the tunnel belongs to.
    api.hooks.beforeRegister.tap('origin-ca', ({ tunnel, peerCertificate }) => {
      const zones = zonesOfPeer(peerCertificate?.subjectaltname);
      if (!zones.includes(tunnel.zone)) {
        throw new RegistrationRefused(`the client certificate is for ${zones.join(', ') || 'no zone'}, but tunnel ${tunnel.name} belongs to ${tunnel.zone}`, false);
      }
    });

    api.hooks.beforeRouteHostname.tap('origin-ca', ({ hostname, tunnel }) => {
      if (!hostnameInZones(hostname, [tunnel.zone])) {
        throw new ApiError(400, `${hostname} is outside the zone ${tunnel.zone} of tunnel ${tunnel.name}`, `route a hostname under ${tunnel.zone}`);
      }
    });

    api.route(
      'POST',
      '/v1/login',
      async (req) => {
        const body = await req.json<{ csr?: string; zone?: string }>();
        if (!body.csr) throw new ApiError(400, 'missing csr');
        const zones = body.zone ? [body.zone] : settings.zones;
        if (zones.length === 0) throw new ApiError(400, 'this edge serves no zones', 'add zones to edge.zones in the edge config');
        const unknown = zones.filter((zone) => !settings.zones.includes(zone));
        if (unknown.length) throw new ApiError(400, `this edge does not serve ${unknown.join(', ')}`, `pick one of ${settings.zones.join(', ')}`);
        const signed = await signZoneCertificate(ca, body.csr, { zones }).catch((error: Error) => {
          throw new ApiError(400, `certificate request refused: ${error.message}`);
        });
        const response: LoginResponse = {
          certificate: signed.certPem,
          ca: ca.certPem,
          zones,
          edge: { api: `http://${req.raw.headers.host}`, tunnel: advertisedTunnel(settings.advertise, tunnelAddress, req.raw.headers.host) },
          apiToken: api.auth.issueZoneToken(zones),
        };
        api.log.info({ zones, serial: signed.serialNumber }, 'issued a zone certificate');
        return { json: response };
      },
      { auth: 'admin' },
    );
  },

  connector(api) {
    api.hooks.resolveCredentials.tapPromise('origin-ca', async (query) => {
      const certFile = query.originCert ? path.resolve(query.configDir, query.originCert) : path.join(burrowHome(), 'cert.pem');
      const cert = await readOriginCert(certFile);
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

/** Zones named by a peer certificate's subjectAltName (`DNS:example.test, DNS:*.example.test`). */
function zonesOfPeer(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return [...new Set(subjectAltName.split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4).replace(/^\*\./, '').toLowerCase()))];
}

/** The tunnel address to hand a connector: the configured one, else the host it reached the API on. */
function advertisedTunnel(advertise: string | undefined, listening: string, apiHost: string | undefined): string {
  if (advertise) return advertise;
  const { host, port } = splitHostPort(listening);
  const wildcard = host === '0.0.0.0' || host === '::';
  const apiHostname = apiHost?.startsWith('[') ? apiHost.slice(1, apiHost.indexOf(']')) : apiHost?.split(':')[0];
  return formatHostPort(wildcard && apiHostname ? apiHostname : host, port);
}
