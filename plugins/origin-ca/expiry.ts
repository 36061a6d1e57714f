// Warns a connector before its client certificate expires, and refuses to start with one that already has.
import { X509Certificate } from 'node:crypto';
import { OriginCertError } from './cert-file.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A warning when `certPem` expires within `warnDays`; throws when it expired already, since the edge would
 * refuse the TLS handshake with a less helpful message.
 */
export function checkCertificateExpiry(certPem: string, opts: { source: string; warnDays: number; renewHint: string; now?: Date }): string | undefined {
  const notAfter = new Date(new X509Certificate(certPem).validTo);
  const left = notAfter.getTime() - (opts.now ?? new Date()).getTime();
  if (left <= 0) throw new OriginCertError(opts.source, `the client certificate expired on ${notAfter.toISOString()}`, opts.renewHint);
  if (left > opts.warnDays * DAY_MS) return undefined;
  const days = Math.floor(left / DAY_MS);
  return `${opts.source}: the client certificate expires on ${notAfter.toISOString()} (${days === 0 ? 'in less than a day' : `in ${days} day${days === 1 ? '' : 's'}`}); ${opts.renewHint}`;
}
