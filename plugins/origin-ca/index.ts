// Built-in plugin: the edge's origin CA (mutual TLS, zone certificates, login), the connector's credentials, and `burrow login` / `tunnel token`.
import { EDGE_SERVER_NAME, TrustStoreToken, ZoneLoginToken, definePlugin, z } from 'burrow';
import { createCertificateAuthority, createKeyAndCsr } from './ca.ts';
import { loadOrCreateServerCertificate } from './ca-store.ts';
import { tapCredentials } from './credentials.ts';
import { registerLoginCommand } from './login-command.ts';
import { serveLoginApi } from './login-api.ts';
import { ConnectorKeysToken } from './service.ts';
import { registerTokenCommand } from './token-command.ts';
import { tapTunnelListener } from './tunnel-listener.ts';
import { zoneLogin } from './zone-login.ts';

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
    const ca = await api.services.get(TrustStoreToken).originCa(() => createCertificateAuthority({ commonName: `Burrow origin CA (${settings.pop})` }));
    const server = await loadOrCreateServerCertificate(settings.dataDir, ca, { dnsNames: [EDGE_SERVER_NAME, 'localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    tapTunnelListener(api, ca, server);
    serveLoginApi(api, ca, opts);
  },

  connector(api, opts) {
    tapCredentials(api, opts);
  },

  cli(api) {
    api.services.provide(ZoneLoginToken, zoneLogin);
    api.services.provide(ConnectorKeysToken, { createKeyAndCsr });
    registerLoginCommand(api);
    registerTokenCommand(api);
  },
});
