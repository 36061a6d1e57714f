// Response helpers for middleware on either runtime: short replies, and a look at the headers before they go out.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

/** The edge's visitor response (HTTP/1.1) or the connector's stream response (HTTP/2 compat). */
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** Answers with a short plain-text body (refusals: 401, 403, 429 ...). */
export function reply(res: AnyResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${text}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  if (res.req.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * Runs `fn` once, just before the response's status line and headers are sent, whether the origin
 * calls writeHead or lets write()/end() send them. `fn` reads and changes them with
 * `res.getHeader`/`setHeader`/`removeHeader` (headers passed to writeHead are already merged in).
 * Later-registered callbacks (middleware closer to the origin) run first.
 */
export function beforeHeaders(res: AnyResponse, fn: (status: number) => void): void {
  const target = res as unknown as { writeHead: (this: AnyResponse, status: number, ...args: unknown[]) => unknown };
  const original = target.writeHead;
  target.writeHead = function (this: AnyResponse, status: number, ...rest: unknown[]) {
    target.writeHead = original;
    const reason = typeof rest[0] === 'string' ? rest.shift() : undefined;
    const headers = rest[0];
    // Array-form headers (HTTP/1 raw pairs) cannot be merged by name; leave them as they are.
    if (Array.isArray(headers)) {
      fn(status);
      return original.call(this, status, ...(reason === undefined ? [] : [reason]), headers);
    }
    if (headers && typeof headers === 'object') {
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (value !== undefined) this.setHeader(name, value as string);
    }
    this.statusCode = status;
    fn(status);
    return reason === undefined ? original.call(this, this.statusCode) : original.call(this, this.statusCode, reason);
  };
}
