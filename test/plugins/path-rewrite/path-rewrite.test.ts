// The path-rewrite plugin through the test kit: strip prefix (segment-wise), regex replace, add prefix, query kept.
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
    ingress: [
      { hostname: 'api.example.test', path: '^/api(/|$)', service: origin.url, middleware: [{ use: 'path-rewrite', options: { stripPrefix: '/api' } }] },
      {
        hostname: 'legacy.example.test',
        service: origin.url,
        middleware: [{ use: 'path-rewrite', options: { replace: [{ from: '^/users/(\\d+)$', to: '/v1/accounts/$1' }], addPrefix: '/app' } }],
      },
      { service: origin.url },
    ],
  });
});

after(async () => {
  await kit.close();
  await origin.close();
});

describe('path-rewrite plugin', () => {
  const cases: Array<[host: string, path: string, seen: string]> = [
    ['api.example.test', '/api/users?page=2', '/users?page=2'],
    ['api.example.test', '/api', '/'],
    ['api.example.test', '/apiary', '/apiary'], // not a whole segment: the rule does not match, the catch-all passes it untouched
    ['legacy.example.test', '/users/42?x=1', '/app/v1/accounts/42?x=1'],
    ['legacy.example.test', '/', '/app'],
    ['other.example.test', '/api/users', '/api/users'],
  ];
  for (const [host, path, seen] of cases) {
    it(`${host}${path} reaches the origin as ${seen}`, async () => {
      const res = await kit.inject({ host, path });
      assert.equal(res.status, 200);
      assert.equal(res.json<Echo>().url, seen);
    });
  }

  it('tells the origin the stripped prefix', async () => {
    const echo = (await kit.inject({ host: 'api.example.test', path: '/api/x' })).json<Echo>();
    assert.equal(echo.headers['x-forwarded-prefix'], '/api');
  });

  it('rejects a prefix ending in a slash and an invalid regular expression', async () => {
    await assert.rejects(createTestKit({ plugins: [{ use: 'path-rewrite', options: { stripPrefix: '/api/' } }] }), /options\.stripPrefix.*prefix starting with \//);
    await assert.rejects(
      createTestKit({ plugins: [{ use: 'path-rewrite', options: { replace: [{ from: '(', to: '' }] } }] }),
      /options\.replace\[0\]\.from.*regular expression/,
    );
  });
});
