// What an edge API page that signs people in needs from a browser request: its cookies, whether a form post
// came from this site, and the posted form (bounded).
import type { IncomingMessage } from 'node:http';
import { ApiError } from './api.ts';

/** The request's cookies by name (the last of each name). */
export function requestCookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0) out[part.slice(0, index).trim()] = part.slice(index + 1).trim();
  }
  return out;
}

/** Browsers send Origin on form posts; one that names another site is a cross-site request. */
export function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${req.headers.host}`;
}

/** The posted `application/x-www-form-urlencoded` form; more than `maxBytes` is a 413. */
export async function readForm(req: IncomingMessage, maxBytes = 16 * 1024): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > maxBytes) throw new ApiError(413, 'form too large');
  }
  return new URLSearchParams(text);
}
