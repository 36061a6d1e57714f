// The origin CA as a service other edge plugins use to sign connectors' certificate requests (approval page, quick tunnels).
import { serviceToken } from '../../core/kernel/services.ts';
import type { TunnelRecord } from '../../core/edge/registry.ts';

/** What a login hands the connector: everything `cert.pem` holds except the private key, which never left it. */
export interface LoginResponse {
  certificate: string;
  ca: string;
  zones: string[];
  edge: { api: string; tunnel: string };
  apiToken: string;
}

/** A certificate that may run exactly one tunnel (tunnel tokens, quick tunnels). */
export interface TunnelCertificate {
  certificate: string;
  ca: string;
  notAfter: string;
  edge: { api: string; tunnel: string };
}

export interface OriginCa {
  readonly caPem: string;
  /**
   * Signs a zone certificate from the connector's CSR and issues the zone API token.
   * `apiHost` is the Host the client reached the API on; it decides the addresses handed back.
   */
  login(csrPem: string, zones: string[], apiHost: string | undefined): Promise<LoginResponse>;
  /** Signs a certificate bound to `tunnel` (its zone, plus a SAN URI naming the tunnel). */
  tunnelCertificate(csrPem: string, tunnel: TunnelRecord, apiHost: string | undefined, validityDays?: number): Promise<TunnelCertificate>;
}

export const OriginCaToken = serviceToken<OriginCa>('OriginCa');
