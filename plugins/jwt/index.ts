// Built-in plugin: lets a request through only with a valid JWT (from a header or a cookie), checked with jose.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { z } from 'zod';
import { AttributedError, definePlugin, reply } from 'burrow';

const headerName = z.string().regex(/^[a-z0-9-]+$/i, 'expected a header name');

export const jwtOptions = z
  .strictObject({
    /** Shared secret for HS256/384/512 tokens. */
    secret: z.string().min(16, 'expected a shared secret of at least 16 characters').optional(),
    /** JWKS file (`{ "keys": [...] }`, relative to the config file) with the public keys of RS/ES/PS/EdDSA tokens. */
    jwksFile: z.string().min(1).optional(),
    /** Header carrying the token; for `authorization` the value is `Bearer <token>`. */
    header: headerName.default('authorization'),
    /** Cookie carrying the token, tried when the header has none. */
    cookie: z.string().regex(/^[!#$%&'*+.^_`|~0-9a-z-]+$/i, 'expected a cookie name').optional(),
    issuer: z.union([z.string(), z.array(z.string())]).optional(),
    audience: z.union([z.string(), z.array(z.string())]).optional(),
    /** Accepted algorithms; by default HS256/384/512 with `secret`, whatever the JWKS keys allow with `jwksFile`. */
    algorithms: z.array(z.string()).optional(),
    /** Seconds of clock skew tolerated on exp/nbf. */
    clockTolerance: z.number().min(0).default(0),
    /** Claims passed to the origin as request headers, e.g. { sub: x-user-id }. Visitor-sent copies are removed. */
    forwardClaims: z.record(z.string(), headerName).default({}),
  })
  .refine((o) => (o.secret === undefined) !== (o.jwksFile === undefined), { message: 'expected exactly one of secret or jwksFile' });
export type JwtOptions = z.output<typeof jwtOptions>;

export default definePlugin({
  id: 'jwt',
  description: 'JWT access: a valid token in a header or cookie, or 401',
  middlewareOnly: true,
  options: jwtOptions,
  async connector(api, options) {
    const key = options.secret !== undefined ? new TextEncoder().encode(options.secret) : await loadJwks(path.resolve(api.configDir, options.jwksFile!));
    const verifyOptions: JWTVerifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockTolerance,
      algorithms: options.algorithms ?? (options.secret !== undefined ? ['HS256', 'HS384', 'HS512'] : undefined),
    };
    const header = options.header.toLowerCase();
    const forwarded = Object.entries(options.forwardClaims).map(([claim, name]) => [claim, name.toLowerCase()] as const);
    api.use(async (ctx, next) => {
      const headers = ctx.req.headers;
      for (const [, name] of forwarded) delete headers[name];
      const token = tokenFrom(headers[header], header === 'authorization') ?? cookieValue(headers.cookie, options.cookie);
      let payload: JWTPayload;
      try {
        if (!token) throw new Error('no token');
        payload = (await jwtVerify(token, key as Uint8Array & JWTVerifyGetKey, verifyOptions)).payload;
      } catch (error) {
        ctx.req.resume();
        const problem = token ? describe(error) : 'A token is required.';
        const challenge = token ? `Bearer error="invalid_token", error_description="${problem.replace(/"/g, "'")}"` : 'Bearer';
        return reply(ctx.res, 401, problem, { 'www-authenticate': challenge });
      }
      for (const [claim, name] of forwarded) {
        const value = payload[claim];
        if (value !== undefined) headers[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
      await next();
    });
  },
});

async function loadJwks(file: string): Promise<JWTVerifyGetKey> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new AttributedError('BURROW_ERR_JWKS', `cannot read the JWKS file ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!parsed || !Array.isArray((parsed as { keys?: unknown }).keys)) throw new AttributedError('BURROW_ERR_JWKS', `${file} is not a JWKS document: it needs a "keys" list`);
  return createLocalJWKSet(parsed as Parameters<typeof createLocalJWKSet>[0]);
}

function tokenFrom(value: string | string[] | undefined, bearer: boolean): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (!bearer) return text.trim() || undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(text)?.[1];
}

function cookieValue(cookie: string | undefined, name: string | undefined): string | undefined {
  if (!cookie || !name) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim()) || undefined;
  }
  return undefined;
}

function describe(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_JWT_EXPIRED') return 'The token has expired.';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return `The token's ${(error as { claim?: string }).claim ?? ''} claim is not accepted.`;
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'The token signature is not valid.';
  if (code === 'ERR_JWKS_NO_MATCHING_KEY') return 'No known key signed the token.';
  if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') return "The token's algorithm is not accepted.";
  return 'The token is not valid.';
}
