// The basic-auth plugin through the test kit: challenge, plain and sha256 passwords, the origin never sees the password.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestKit, type TestKit } from '../../../core/testing/index.ts';
import { startEchoOrigin, type Echo } from '../../helpers/echo-origin.ts';
import type { TestOrigin } from '../../helpers/harness.ts';

let origin: TestOrigin;
let kit: TestKit;
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

before(async () => {
  origin = await startEchoOrigin();
  const bobHash = createHash('sha256').update('hunter2:with:colons').digest('hex');
  kit = await createTestKit({
    plugins: [{ use: 'basic-auth', name: 'staff', options: { realm: 'Staff area', users: { alice: 'wonderland', bob: `sha256:${bobHash}` } } }],
    ingress: [{ hostname: 'admin.example.test', service: origin.url, middleware: ['staff'] }, { service: origin.url }],
  });
});

after(async () => {
  await kit.close();
  await origin.close();
});

describe('basic-auth plugin', () => {
  it('challenges a visitor without credentials, naming the realm', async () => {
    const res = await kit.inject({ host: 'admin.example.test' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Staff area", charset="UTF-8"');
  });

  it('refuses a wrong password, an unknown user and a malformed header', async () => {
    for (const headers of [basic('alice', 'wrong'), basic('mallory', 'wonderland'), { authorization: 'Basic !!!' }, { authorization: 'Bearer x' }]) {
      assert.equal((await kit.inject({ host: 'admin.example.test', headers })).status, 401, JSON.stringify(headers));
    }
  });

  it('lets a plain-text and a sha256 user in, without forwarding the password', async () => {
    for (const [user, password] of [['alice', 'wonderland'], ['bob', 'hunter2:with:colons']] as const) {
      const res = await kit.inject({ host: 'admin.example.test', headers: { ...basic(user, password), 'x-forwarded-user': 'root' } });
      assert.equal(res.status, 200, user);
      const echo = res.json<Echo>();
      assert.equal(echo.headers.authorization, undefined);
      assert.equal(echo.headers['x-forwarded-user'], user, 'the visitor cannot claim another user');
    }
  });

  it('leaves rules that do not list it alone', async () => {
    assert.equal((await kit.inject({ host: 'www.example.test' })).status, 200);
  });

  it('rejects a user list that is empty', async () => {
    await assert.rejects(createTestKit({ plugins: [{ use: 'basic-auth', options: { users: {} } }] }), /plugins\[0\]\.options\.users.*at least one user/);
  });
});
