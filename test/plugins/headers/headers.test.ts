// The headers plugin through the test kit: request and response set/add/remove, Host rewrite, bad options.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestKit, type TestKit } from '../../../core/testing/index.ts';
import { startEchoOrigin, type Echo } from '../../helpers/echo-origin.ts';
import type { TestOrigin } from '../../helpers/harness.ts';

let origin: TestOrigin;
let kit: TestKit;

before(async () => {
  origin = await startEchoOrigin();
  kit = await createTestKit({
    plugins: [
      {
        use: 'headers',
        options: {
          request: { set: { 'X-Env': 'prod' }, add: { 'x-tag': 'burrow' }, remove: ['x-secret', 'x-debug-*'] },
          response: { set: { 'strict-transport-security': 'max-age=63072000' }, add: { 'x-tag': 'two' }, remove: ['server'] },
          host: 'internal.service',
        },
      },
    ],
    ingress: [{ service: origin.url }],
  });
});

after(async () => {
  await kit.close();
  await origin.close();
});

describe('headers plugin', () => {
  it('sets, appends and removes request headers, and rewrites Host', async () => {
    const res = await kit.inject({ path: '/', headers: { 'x-env': 'dev', 'x-tag': 'visitor', 'x-secret': 's3', 'x-debug-a': '1', 'x-debug-b': '2', 'x-keep': 'yes' } });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-env'], 'prod');
    assert.equal(echo.headers['x-tag'], 'visitor, burrow');
    assert.equal(echo.headers['x-secret'], undefined);
    assert.equal(echo.headers['x-debug-a'], undefined);
    assert.equal(echo.headers['x-debug-b'], undefined);
    assert.equal(echo.headers['x-keep'], 'yes');
    assert.equal(echo.headers.host, 'internal.service');
  });

  it('sets, appends and removes response headers', async () => {
    const res = await kit.inject({ path: '/' });
    assert.equal(res.headers['strict-transport-security'], 'max-age=63072000');
    assert.equal(res.headers['x-tag'], 'two');
    assert.equal(res.headers.server, undefined);
    assert.equal(res.headers['x-origin'], 'echo', 'headers not named are kept');
  });

  it('reports a bad header name with the option path', async () => {
    await assert.rejects(
      createTestKit({ plugins: [{ use: 'headers', options: { request: { set: { 'bad header': 'x' } } } }] }),
      (error: Error) => /plugins\[0\]\.options\.request\.set/.test(error.message) && /header name/.test(error.message),
    );
  });

  for (const [name, value] of [
    ['a number', 5],
    ['a list holding a number', ['a', 5]],
    ['an object', { a: 'b' }],
  ] as const) {
    it(`reports a header value that is ${name} by saying what is expected`, async () => {
      await assert.rejects(createTestKit({ plugins: [{ use: 'headers', options: { request: { set: { 'x-a': value } } } }] }), (error: Error) => {
        assert.match(error.message, /plugins\[0\]\.options\.request\.set\.x-a: plugin "headers": expected a string or a list of strings/);
        assert.doesNotMatch(error.message, /Invalid input/);
        return true;
      });
    });
  }

  it('refuses to edit headers the tunnel manages', async () => {
    await assert.rejects(createTestKit({ plugins: [{ use: 'headers', options: { request: { remove: ['burrow-ray'] } } }] }), /request\.remove\[0\].*managed by Burrow/);
  });
});
