// The edge API of the origin CA: `/v1/login` (zone certificates and tokens) and `/v1/tunnels/:ref/certificate`, and the OriginCa service behind them.
import { ApiAuthToken, ApiError, TunnelRegistryToken, formatHostPort, splitHostPort, type CertifiedKey, type EdgePluginApi } from 'burrow';
import { checkCertificateRequest, issuePopCertificate, signZoneCertificate } from './ca.ts';
import { OriginCaToken, type EdgeEndpoints, type LoginResponse, type OriginCa } from './service.ts';

export function serveLoginApi(api: EdgePluginApi, ca: CertifiedKey, opts: { validityDays: number }): void {
  const { settings } = api;
  let tunnelAddress = settings.listen.tunnel;
  let dnsAddress = settings.listen.dns;
  api.hooks.afterListen.tap('origin-ca', (addresses) => {
    tunnelAddress = addresses.tunnel;
    dnsAddress = addresses.dns;
  });
  // With SRV discovery, cert.pem names the domain and this edge's DNS listener as the resolver to ask.
  const discovery = (apiHost: string | undefined) =>
    settings.dns.discovery ? { discovery: { domain: settings.dns.discovery, ...(dnsAddress ? { resolver: advertisedAddress(undefined, dnsAddress, apiHost) } : {}) } } : {};
  const edgeAddresses = (apiHost: string | undefined): EdgeEndpoints => ({ api: `http://${apiHost}`, tunnel: advertisedAddress(settings.advertise, tunnelAddress, apiHost), ...discovery(apiHost) });
  const refused = (error: Error) => new ApiError(400, `certificate request refused: ${error.message}`, 'send a PKCS#10 request for an ECDSA P-256 key, as `burrow login` does');
  const sign = (csrPem: string, zones: string[], tunnelId?: string, validityDays = opts.validityDays) =>
    signZoneCertificate(ca, csrPem, { zones, tunnelId, validityDays }).catch((error: Error) => {
      throw refused(error);
    });

  const service: OriginCa = {
    caPem: ca.certPem,
    async checkRequest(csrPem) {
      await checkCertificateRequest(csrPem).catch((error: Error) => {
        throw refused(error);
      });
    },
    async login(csrPem, zones, apiHost) {
      const signed = await sign(csrPem, zones);
      api.log.info({ zones, serial: signed.serialNumber, notAfter: signed.notAfter }, 'issued a zone certificate');
      return { certificate: signed.certPem, ca: ca.certPem, zones, edge: edgeAddresses(apiHost), apiToken: api.services.get(ApiAuthToken).issueZoneToken(zones) };
    },
    async tunnelCertificate(csrPem, tunnel, apiHost, validityDays) {
      const signed = await sign(csrPem, [tunnel.zone], tunnel.id, validityDays);
      api.log.info({ tunnel: tunnel.name, serial: signed.serialNumber, notAfter: signed.notAfter }, 'issued a tunnel certificate');
      return { certificate: signed.certPem, ca: ca.certPem, notAfter: signed.notAfter.toISOString(), edge: edgeAddresses(apiHost) };
    },
    popCertificate: (pop) => issuePopCertificate(ca, pop),
  };
  api.services.provide(OriginCaToken, service);

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
}

/** The tunnel address to hand a connector: the configured one, else the host it reached the API on. */
function advertisedAddress(advertise: string | undefined, listening: string, apiHost: string | undefined): string {
  if (advertise) return advertise;
  const { host, port } = splitHostPort(listening);
  const wildcard = host === '0.0.0.0' || host === '::';
  const apiHostname = apiHost?.startsWith('[') ? apiHost.slice(1, apiHost.indexOf(']')) : apiHost?.split(':')[0];
  return formatHostPort(wildcard && apiHostname ? apiHostname : host, port);
}
