// The jwt plugin through the test kit: shared secret and JWKS file, header and cookie, expiry, audience, forwarded claims.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createTestKit, type TestKit } from '../../../core/testing/index.ts';
import { startEchoOrigin, type Echo } from '../../helpers/echo-origin.ts';
import { removeDir, tempDir, type TestOrigin } from '../../helpers/harness.ts';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const SECRET = 'a-shared-secret-of-32-characters';
let origin: TestOrigin;
let dir: string;
let secretKit: TestKit;
let jwksKit: TestKit;
let privateKey: PrivateKey;
let otherKey: PrivateKey;

const hs = (claims: Record<string, unknown>, expires = '5m', secret = SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expires).sign(new TextEncoder().encode(secret));
const es = (key: PrivateKey, claims: Record<string, unknown> = {}) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt().setExpirationTime('5m').sign(key);

before(async () => {
  origin = await startEchoOrigin();
  dir = await tempDir('burrow-jwt-');
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  await writeFile(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  secretKit = await createTestKit({
    plugins: [{ use: 'jwt', options: { secret: SECRET, cookie: 'session', audience: 'burrow-app', forwardClaims: { sub: 'x-user-id' } } }],
    ingress: [{ service: origin.url }],
  });
  jwksKit = await createTestKit({ configDir: dir, plugins: [{ use: 'jwt', options: { jwksFile: './jwks.json', header: 'x-access-token' } }], ingress: [{ service: origin.url }] });
});

after(async () => {
  await secretKit.close();
  await jwksKit.close();
  await origin.close();
  await removeDir(dir);
});

describe('jwt plugin with a shared secret', () => {
  it('lets a valid bearer token through and forwards the subject', async () => {
    const token = await hs({ sub: 'user-7', aud: 'burrow-app' });
    const res = await secretKit.inject({ headers: { authorization: `Bearer ${token}`, 'x-user-id': 'spoofed' } });
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().headers['x-user-id'], 'user-7');
  });

  it('accepts the token from the cookie', async () => {
    const token = await hs({ sub: 'user-8', aud: 'burrow-app' });
    const res = await secretKit.inject({ headers: { cookie: `theme=dark; session=${token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().headers['x-user-id'], 'user-8');
  });

  it('answers 401 with a Bearer challenge when the token is missing or bad', async () => {
    const missing = await secretKit.inject();
    assert.equal(missing.status, 401);
    assert.equal(missing.headers['www-authenticate'], 'Bearer');
    const cases: Array<[string, string, RegExp]> = [
      ['expired', await hs({ aud: 'burrow-app' }, '-1m'), /expired/],
      ['wrong audience', await hs({ aud: 'someone-else' }), /aud/],
      ['wrong secret', await hs({ aud: 'burrow-app' }, '5m', 'another-secret-of-32-characters!'), /signature/],
      ['garbage', 'not.a.jwt', /not valid/],
    ];
    for (const [what, token, reason] of cases) {
      const res = await secretKit.inject({ headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401, what);
      assert.match(String(res.headers['www-authenticate']), /^Bearer error="invalid_token"/, what);
      assert.match(res.text, reason, what);
    }
  });
});

describe('jwt plugin with a JWKS file', () => {
  it('accepts a token signed by a key in the file, from the configured header', async () => {
    assert.equal((await jwksKit.inject({ headers: { 'x-access-token': await es(privateKey) } })).status, 200);
  });

  it('refuses a token signed by another key, and an HS256 token', async () => {
    assert.equal((await jwksKit.inject({ headers: { 'x-access-token': await es(otherKey) } })).status, 401);
    assert.equal((await jwksKit.inject({ headers: { 'x-access-token': await hs({}) } })).status, 401);
  });
});

describe('jwt plugin options', () => {
  it('needs exactly one of secret or jwksFile', async () => {
    await assert.rejects(createTestKit({ plugins: [{ use: 'jwt', options: {} }] }), /plugin "jwt": expected exactly one of secret or jwksFile/);
  });

  it('fails at startup, naming the plugin, when the JWKS file is missing', async () => {
    await assert.rejects(createTestKit({ configDir: dir, plugins: [{ use: 'jwt', options: { jwksFile: 'missing.json' } }] }), /plugin "jwt" failed in connector setup: cannot read the JWKS file/);
  });

  it('keeps BURROW_ERR_JWKS on the cause for a missing file and for a file that is not a JWKS document', async () => {
    await writeFile(path.join(dir, 'not-jwks.json'), '{"kty":"EC"}');
    for (const [file, message] of [
      ['missing.json', /^cannot read the JWKS file /],
      ['not-jwks.json', /not-jwks\.json is not a JWKS document: it needs a "keys" list$/],
    ] as const) {
      await assert.rejects(createTestKit({ configDir: dir, plugins: [{ use: 'jwt', options: { jwksFile: file } }] }), (error: Error & { code?: string; cause?: Error & { code?: string } }) => {
        assert.equal(error.code, 'BURROW_ERR_PLUGIN');
        assert.equal(error.cause?.code, 'BURROW_ERR_JWKS');
        assert.match(error.cause.message, message);
        return true;
      });
    }
  });
});
