// The connector's credentials: from a tunnel token, or from cert.pem plus the tunnel's `<id>.json` credentials file.
import path from 'node:path';
import { EdgeClient, burrowHome, type ConnectorPluginApi } from 'burrow';
import { readOriginCert } from './cert-file.ts';
import { readCredentialsFile } from './credentials-file.ts';
import { checkCertificateExpiry } from './expiry.ts';
import { decodeTunnelToken } from './tunnel-token.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function tapCredentials(api: ConnectorPluginApi, opts: { expiryWarningDays: number }): void {
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
        zone: token.zone,
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
      // A credentials file without Zone (cloudflared's) belongs to the zone cert.pem was issued for.
      zone: credentials.Zone || cert.zones[0]!,
      tls: { caPem: cert.caPem, certPem: cert.certPem, keyPem: cert.keyPem },
      edge: cert.edge.tunnel,
      ...(cert.edge.discovery ? { discovery: cert.edge.discovery } : {}),
    };
  });
}
