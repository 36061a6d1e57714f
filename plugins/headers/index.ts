// Built-in plugin: rewrites request headers (set/add/remove, Host) before the origin, and response headers after it.
import type { IncomingHttpHeaders } from 'node:http2';
import { z } from 'zod';
import { beforeHeaders, definePlugin } from 'burrow';

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9a-z-]+$/i, 'expected a header name such as x-request-source');
const headerValue = z.union([z.string(), z.array(z.string())], { error: 'expected a string or a list of strings' });
const headerPattern = z.string().regex(/^[!#$%&'*+.^_`|~0-9a-z-]+\*?$/i, 'expected a header name, or a prefix ending in * such as x-debug-*');

// Names HTTP/2 and the tunnel manage themselves; editing them would break the request.
const PROTECTED = /^(:|burrow-ray$|connection$|transfer-encoding$|content-length$)/;
const unprotected = (name: string) => !PROTECTED.test(name.toLowerCase());
const PROTECTED_MESSAGE = 'this request header is managed by Burrow and cannot be changed (use the host option to change Host)';

function editsOf(name: z.ZodType<string>, pattern: z.ZodType<string>) {
  return z.strictObject({
    /** Replace (or create) these headers. */
    set: z.record(name, headerValue).optional(),
    /** Append these values, keeping what is there. */
    add: z.record(name, headerValue).optional(),
    /** Remove these headers; `x-debug-*` removes every header with that prefix. */
    remove: z.array(pattern).optional(),
  });
}
const edits = editsOf(headerName, headerPattern);
const requestEdits = editsOf(headerName.refine(unprotected, PROTECTED_MESSAGE), headerPattern.refine(unprotected, PROTECTED_MESSAGE));

export const headersOptions = z.strictObject({
  /** Changes to the request before it reaches the origin. */
  request: requestEdits.optional(),
  /** Changes to the response before it reaches the visitor. */
  response: edits.optional(),
  /** The Host header the origin sees (like originRequest.httpHostHeader, but per middleware). */
  host: z.string().regex(/^[^\s/]+$/, 'expected a host name, optionally with :port').optional(),
});
export type HeadersOptions = z.output<typeof headersOptions>;
type Edits = z.output<typeof edits>;

export default definePlugin({
  id: 'headers',
  description: 'set, add and remove request and response headers; rewrite Host',
  middlewareOnly: true,
  options: headersOptions,
  connector(api, options) {
    const request = options.request && lowerCase(options.request);
    const response = options.response && lowerCase(options.response);
    api.use(async (ctx, next) => {
      const headers = ctx.req.headers as IncomingHttpHeaders;
      if (request) editRequest(headers, request);
      if (options.host) {
        headers[':authority'] = options.host;
        delete headers.host;
      }
      if (response) {
        beforeHeaders(ctx.res, () => {
          const res = ctx.res;
          for (const pattern of response.remove ?? []) {
            for (const name of res.getHeaderNames()) if (matches(pattern, name)) res.removeHeader(name);
          }
          for (const [name, value] of Object.entries(response.set ?? {})) res.setHeader(name, value);
          for (const [name, value] of Object.entries(response.add ?? {})) {
            const existing = res.getHeader(name);
            const values = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]), ...[value].flat()];
            res.setHeader(name, values.length === 1 ? values[0]! : values);
          }
        });
      }
      await next();
    });
  },
});

function editRequest(headers: IncomingHttpHeaders, edits: Edits): void {
  for (const pattern of edits.remove ?? []) {
    for (const name of Object.keys(headers)) if (!name.startsWith(':') && matches(pattern, name)) delete headers[name];
  }
  for (const [name, value] of Object.entries(edits.set ?? {})) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  for (const [name, value] of Object.entries(edits.add ?? {})) {
    const existing = headers[name];
    const joined = [existing, ...[value].flat()].filter((v) => v !== undefined).flat();
    headers[name] = joined.join(name === 'cookie' ? '; ' : ', ');
  }
}

function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function lowerCase(edits: Edits): Edits {
  const lower = (record?: Record<string, string | string[]>) =>
    record && Object.fromEntries(Object.entries(record).map(([name, value]) => [name.toLowerCase(), value]));
  return { set: lower(edits.set), add: lower(edits.add), remove: edits.remove?.map((name) => name.toLowerCase()) };
}
