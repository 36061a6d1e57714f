// `burrow tunnel token`: one string that runs a tunnel anywhere, like cloudflared's token, plus what mTLS needs.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { ConfigError } from 'burrow';

export interface TunnelToken {
  zone: string;
  tunnelId: string;
  tunnelName: string;
  /** Base64 of the tunnel's 32-byte secret. */
  secret: string;
  /** `host:port` of the edge's tunnel listener. */
  edge: string;
  caPem: string;
  /** A client certificate bound to this tunnel, and its key. */
  certPem: string;
  keyPem: string;
}

/** cloudflared's short keys (a = account, t = tunnel, s = secret) plus the edge address and TLS material. */
interface Wire {
  v: 1;
  a: string;
  t: string;
  n: string;
  s: string;
  e: string;
  ca: string;
  c: string;
  k: string;
}

export function encodeTunnelToken(token: TunnelToken): string {
  const wire: Wire = { v: 1, a: token.zone, t: token.tunnelId, n: token.tunnelName, s: token.secret, e: token.edge, ca: token.caPem, c: token.certPem, k: token.keyPem };
  return Buffer.from(JSON.stringify(wire), 'utf8').toString('base64');
}

export function decodeTunnelToken(text: string, keyPath = '--token'): TunnelToken {
  const broken = (why: string) =>
    new ConfigError(`the tunnel token is not valid (${why})`, { keyPath, hint: 'copy the whole string `burrow tunnel token NAME` printed' });
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) throw broken('not base64');
  let value: Partial<Wire>;
  try {
    value = JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8')) as Partial<Wire>;
  } catch {
    throw broken('not base64 JSON');
  }
  if (typeof value !== 'object' || value === null || value.v !== 1) throw broken('unknown token version');
  for (const key of ['a', 't', 's', 'e', 'ca', 'c', 'k'] as const) {
    if (typeof value[key] !== 'string' || value[key] === '') throw broken(`field "${key}" is missing`);
  }
  try {
    new X509Certificate(value.ca!);
    new X509Certificate(value.c!);
    createPrivateKey(value.k!);
  } catch (error) {
    throw broken(`its certificates or key do not parse: ${(error as Error).message}`);
  }
  return {
    zone: value.a!,
    tunnelId: value.t!,
    tunnelName: value.n ?? '',
    secret: value.s!,
    edge: value.e!,
    caPem: value.ca!,
    certPem: value.c!,
    keyPem: value.k!,
  };
}
