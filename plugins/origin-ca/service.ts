// What origin-ca offers other plugins: the edge's CA signing connectors' requests (approval page, quick tunnels), and on the CLI the connector's key and CSR.
import { serviceToken, type CertifiedKey, type TunnelRecord } from 'burrow';

/** What a login hands the connector: everything `cert.pem` holds except the private key, which never left it. */
/** How a connector reaches the edge it logged in at: its API, its tunnel listener, and the network's SRV discovery. */
export interface EdgeEndpoints {
  api: string;
  tunnel: string;
  /** With edge.dns.discovery: the domain whose _burrow._tcp SRV records list the PoPs, and this edge's DNS listener. */
  discovery?: { domain: string; resolver?: string };
}

export interface LoginResponse {
  certificate: string;
  ca: string;
  zones: string[];
  edge: EdgeEndpoints;
  apiToken: string;
}

/** A certificate that may run exactly one tunnel (tunnel tokens, quick tunnels). */
export interface TunnelCertificate {
  certificate: string;
  ca: string;
  notAfter: string;
  edge: EdgeEndpoints;
}

export interface OriginCa {
  readonly caPem: string;
  /** Throws, saying why, unless `csrPem` is a request this CA would sign (checked before a request waits for approval). */
  checkRequest(csrPem: string): Promise<void>;
  /**
   * Signs a zone certificate from the connector's CSR and issues the zone API token.
   * `apiHost` is the Host the client reached the API on; it decides the addresses handed back.
   */
  login(csrPem: string, zones: string[], apiHost: string | undefined): Promise<LoginResponse>;
  /** Signs a certificate bound to `tunnel` (its zone, plus a SAN URI naming the tunnel). */
  tunnelCertificate(csrPem: string, tunnel: TunnelRecord, apiHost: string | undefined, validityDays?: number): Promise<TunnelCertificate>;
  /**
   * A fresh certificate for PoP-to-PoP links (a PoP mints its own at start, with a new key): server and client auth, and the SAN URI `urn:burrow:pop:<name>` (see popOfPeer). Only a holder of the CA key can mint one.
   */
  popCertificate(pop: string): Promise<CertifiedKey>;
}

const POP_URI_PREFIX = 'URI:urn:burrow:pop:';

/** The PoP a link certificate names (its subjectAltName as node:tls reports it), or undefined for any other certificate. */
export function popOfPeer(subjectAltName: string | undefined): string | undefined {
  const names = (subjectAltName ?? '').split(/,\s*/);
  const pop = names.find((name) => name.startsWith(POP_URI_PREFIX));
  return pop?.slice(POP_URI_PREFIX.length) || undefined;
}

export const OriginCaToken = serviceToken<OriginCa>('OriginCa');

/** The connector's side of a certificate: a fresh key, made where it is used, and the request the edge signs. */
export interface ConnectorKeys {
  createKeyAndCsr(opts: { zones: string[] }): Promise<{ keyPem: string; csrPem: string }>;
}

/** Provided on the CLI (`burrow tunnel --url`, `burrow demo`). */
export const ConnectorKeysToken = serviceToken<ConnectorKeys>('ConnectorKeys');
