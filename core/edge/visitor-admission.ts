// What a visitor request must be before the edge routes it: one valid Host, framing the tunnel can carry, a target that names no other host.
import type { IncomingMessage } from 'node:http';
import { visitorHostname } from '../transport/host.ts';

/** Why the edge refuses a request (the connection closes after the answer). */
export interface Refusal {
  readonly status: number;
  readonly reason: string;
}

/**
 * Header fields a visitor request may carry. Node's parser keeps at most `maxHeadersCount` and silently drops the
 * rest, so the visitor server allows one more and the edge refuses a request that reached it: what was dropped
 * could have been a second Host or a framing header.
 */
export const MAX_VISITOR_HEADER_FIELDS = 2000;

/**
 * The hostname a request routes by, or why the edge refuses it. Node's parser has already refused bad framing
 * (CL.TE, duplicate or signed Content-Length, obs-fold, bare LF, NUL, bad chunk sizes); this adds what it lets
 * through. An absolute-form target (`GET http://host/path`) is rewritten to origin-form once its host matched.
 */
export function admitVisitorRequest(req: IncomingMessage): string | Refusal {
  const raw = req.rawHeaders;
  if (raw.length > 2 * MAX_VISITOR_HEADER_FIELDS) return TOO_MANY_FIELDS;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return TWO_HOSTS;
  const hostname = visitorHostname(req.headers.host);
  if (!hostname) return BAD_HOST;

  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined) {
    // HTTP/1.0 has no chunked framing: a peer that reads this body by Content-Length or to the close sees other requests.
    if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) return HTTP10_CODING;
    // Node decodes chunked only; any other coding (gzip, ...) would reach the origin still encoded and unlabelled.
    if (coding.length !== 7 || coding.toLowerCase() !== 'chunked') return UNKNOWN_CODING;
  }

  const url = req.url!;
  if (url.charCodeAt(0) === 47 /* / */) return hostname;
  if (url === '*' && req.method === 'OPTIONS') return hostname;
  const absolute = ABSOLUTE_FORM.exec(url);
  if (!absolute) return BAD_TARGET;
  // RFC 9112 3.2.2 makes the target's authority win over Host; refusing a mismatch keeps one name for every hop.
  if (visitorHostname(absolute[1]) !== hostname) return OTHER_HOST;
  const rest = absolute[2]!;
  req.url = rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  return hostname;
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)([^#]*)/i;

const TOO_MANY_FIELDS: Refusal = { status: 431, reason: `The request has more than ${MAX_VISITOR_HEADER_FIELDS} header fields.` };
const TWO_HOSTS: Refusal = { status: 400, reason: 'The request has more than one Host header.' };
const BAD_HOST: Refusal = { status: 400, reason: 'The request has no valid Host header.' };
const HTTP10_CODING: Refusal = { status: 400, reason: 'An HTTP/1.0 request cannot use Transfer-Encoding.' };
const UNKNOWN_CODING: Refusal = { status: 501, reason: 'The edge accepts only the chunked transfer coding.' };
const BAD_TARGET: Refusal = { status: 400, reason: 'The request target is neither a path nor an absolute http(s) URL.' };
const OTHER_HOST: Refusal = { status: 400, reason: 'The request target names another host than the Host header.' };
