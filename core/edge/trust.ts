// Shared trust on the edge: where the origin CA and the API-token key come from, and who may call the API.
import { serviceToken } from '../kernel/services.ts';

/** A private key (PKCS#8 PEM) and the certificate (PEM) for its public half. */
export interface CertifiedKey {
  readonly keyPem: string;
  readonly certPem: string;
}

/**
 * The origin CA and the API-token signing key. The default (`trust-files`) keeps them in the edge's
 * dataDir; a network of PoPs provides one store they all share, so a connector certified at one PoP
 * registers at any other and a zone token issued at one is accepted everywhere.
 */
export interface TrustStore {
  /** The origin CA; `create` mints one when the store has none yet (the store keeps it). */
  originCa(create: () => Promise<CertifiedKey>): Promise<CertifiedKey>;
  /** The key zone API tokens are signed with (32 random bytes, created on first use). */
  tokenSigningKey(): Promise<Buffer>;
}

export const TrustStoreToken = serviceToken<TrustStore>('TrustStore');

/** Who is calling the edge API. */
export interface Principal {
  readonly admin: boolean;
  /** Zones this caller may manage; every zone of the edge for the admin. */
  readonly zones: readonly string[];
}

/** API tokens: the operator's admin token and the zone tokens issued at login. */
export interface ApiAuth {
  /** The principal for an `Authorization: Bearer <token>` header, or undefined for none or a bad token. */
  authenticate(authorization: string | undefined): Principal | undefined;
  /** A token that may manage `zones` (what `burrow login` stores in cert.pem). */
  issueZoneToken(zones: readonly string[]): string;
  /** Where the generated admin token was written, when it did not come from BURROW_EDGE_TOKEN. */
  readonly adminTokenFile?: string;
}

export const ApiAuthToken = serviceToken<ApiAuth>('ApiAuth');
