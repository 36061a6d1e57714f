// The edge side of mutual TLS: the tunnel listener's certificate and CA, and which tunnels and hostnames a client certificate may claim.
import { ApiError, RegistrationRefused, type CertifiedKey, type EdgePluginApi } from 'burrow';
import { hostnameInZones, peerIdentity } from './ca.ts';

export function tapTunnelListener(api: EdgePluginApi, ca: CertifiedKey, server: CertifiedKey): void {
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
}
