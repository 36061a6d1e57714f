// Built-in plugin: HTTP Basic authentication against a list of users (plain or sha256-hashed passwords).
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { definePlugin, reply } from 'burrow';

const SHA256 = /^sha256:([0-9a-f]{64})$/i;

export const basicAuthOptions = z.strictObject({
  /** Shown by the browser's login prompt. */
  realm: z.string().regex(/^[^"\\\r\n]*$/, 'expected text without quotes or backslashes').default('Restricted'),
  /** user -> password: plain text, or `sha256:<64 hex digits>` (`printf %s 'secret' | sha256sum`). */
  users: z
    .record(z.string().regex(/^[^:\s]+$/, 'expected a user name without ":" or spaces'), z.string().min(1, 'expected a password or sha256:<hex>'))
    .refine((users) => Object.keys(users).length > 0, 'expected at least one user'),
  /** Pass the visitor's Authorization header on to the origin (off: the origin never sees the password). */
  forwardAuthorization: z.boolean().default(false),
  /** Request header that tells the origin who logged in; set to false to leave it out. */
  userHeader: z.union([z.string().regex(/^[a-z0-9-]+$/i, 'expected a header name'), z.literal(false)]).default('x-forwarded-user'),
});
export type BasicAuthOptions = z.output<typeof basicAuthOptions>;

export default definePlugin({
  id: 'basic-auth',
  description: 'HTTP Basic authentication',
  middlewareOnly: true,
  options: basicAuthOptions,
  connector(api, options) {
    // Compare fixed-length digests, so neither the length nor the content of a password leaks through timing.
    const digests = new Map(Object.entries(options.users).map(([user, password]) => [user, storedDigest(password)]));
    const decoy = storedDigest('no such user');
    const challenge = { 'www-authenticate': `Basic realm="${options.realm}", charset="UTF-8"` };
    const userHeader = options.userHeader === false ? undefined : options.userHeader.toLowerCase();
    api.use(async (ctx, next) => {
      const headers = ctx.req.headers;
      // A visitor must not be able to claim a user by sending the header themselves.
      if (userHeader) delete headers[userHeader];
      const user = verify(headers.authorization, digests, decoy);
      if (user === undefined) {
        ctx.req.resume();
        return reply(ctx.res, 401, 'Authentication required.', challenge);
      }
      if (!options.forwardAuthorization) delete headers.authorization;
      if (userHeader) headers[userHeader] = user;
      await next();
    });
  },
});

function storedDigest(password: string): Buffer {
  const hashed = SHA256.exec(password);
  return hashed ? Buffer.from(hashed[1]!, 'hex') : sha256(password);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The user name when the credentials are right; undefined otherwise. */
function verify(authorization: string | undefined, digests: ReadonlyMap<string, Buffer>, decoy: Buffer): string | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '')?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  const expected = digests.get(user);
  // Unknown users cost the same comparison as known ones.
  const same = timingSafeEqual(sha256(decoded.slice(colon + 1)), expected ?? decoy);
  return same && expected !== undefined ? user : undefined;
}
