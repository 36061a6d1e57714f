// The echo: origin example, loaded by relative path as a config file would, run through the test kit.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createTestKit, type TestKit } from 'burrow/testing';

let kit: TestKit;

before(async () => {
  kit = await createTestKit({
    // As in a burrow.config.yaml next to this folder: `plugins: [{ use: ./echo-origin/index.ts, options: {...} }]`.
    configDir: import.meta.dirname,
    plugins: [{ use: './index.ts', options: { name: 'test-echo' } }],
    ingress: [
      { hostname: 'echo.example.test', service: 'echo:main' },
      { hostname: 'traced.example.test', service: 'echo:', originRequest: { echoHeader: 'X-Trace' } },
      { service: 'http_status:404' },
    ],
  });
});

after(() => kit.close());

describe('echo-origin example', () => {
  it('adds an echo: scheme that describes the request', async () => {
    const res = await kit.inject({ host: 'echo.example.test', path: '/hello?x=1', clientIp: '203.0.113.9' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-echo-by'], 'test-echo');
    const echo = res.json<{ label: string; path: string; ray: string; clientIp: string }>();
    assert.equal(echo.label, 'main');
    assert.equal(echo.path, '/hello?x=1');
    assert.equal(echo.ray, res.ray);
    assert.equal(echo.clientIp, '203.0.113.9');
  });

  it('streams a request body back', async () => {
    const parts = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const res = await kit.inject({ host: 'echo.example.test', method: 'POST', headers: { 'content-type': 'application/x-test' }, body: Readable.from(parts) });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/x-test');
    assert.deepEqual(res.body, Buffer.concat(parts));
  });

  it('leaves other schemes to other plugins', async () => {
    assert.equal((await kit.inject({ host: 'other.example.test' })).status, 404);
  });

  it('reads its own originRequest option, per rule', async () => {
    const traced = await kit.inject({ host: 'traced.example.test', headers: { 'x-trace': 'abc123' } });
    assert.equal(traced.headers['x-echo-header'], 'abc123');
    const plain = await kit.inject({ host: 'echo.example.test', headers: { 'x-trace': 'abc123' } });
    assert.equal(plain.headers['x-echo-header'], undefined);
  });

  it('takes the option from the top-level originRequest too', async () => {
    const topLevel = await createTestKit({
      configDir: import.meta.dirname,
      plugins: ['./index.ts'],
      originRequest: { echoHeader: 'x-trace' },
      ingress: [{ service: 'echo:' }],
    });
    try {
      assert.equal((await topLevel.inject({ headers: { 'x-trace': 'top' } })).headers['x-echo-header'], 'top');
    } finally {
      await topLevel.close();
    }
  });

  const badValues: Array<[where: string, options: { originRequest?: object; ingress: object[] }, keyPath: string]> = [
    ['a rule', { ingress: [{ hostname: 'a.example.test', service: 'echo:' }, { service: 'echo:', originRequest: { echoHeader: 'not a header' } }] }, 'ingress[1].originRequest.echoHeader'],
    ['the top level', { originRequest: { echoHeader: 'not a header' }, ingress: [{ service: 'echo:' }] }, 'originRequest.echoHeader'],
  ];
  for (const [where, options, keyPath] of badValues) {
    it(`rejects a bad echoHeader in ${where} with its key path and the plugin's hint`, async () => {
      await assert.rejects(
        createTestKit({ configDir: import.meta.dirname, plugins: ['./index.ts'], ...(options as object) }),
        (error: Error & { code?: string; keyPath?: string }) => {
          assert.equal(error.code, 'BURROW_ERR_CONFIG');
          assert.equal(error.keyPath, keyPath);
          assert.match(error.message, new RegExp(`${keyPath.replace(/[.[\]]/g, '\\$&')}: "not a header" is not a header name\\. Fix: use a header name such as x-request-id`));
          return true;
        },
      );
    });
  }

  it('a misspelt option of the plugin gets a did-you-mean', async () => {
    await assert.rejects(
      createTestKit({ configDir: import.meta.dirname, plugins: ['./index.ts'], ingress: [{ service: 'echo:', originRequest: { echoHeadr: 'x' } }] }),
      /ingress\[0\]\.originRequest\.echoHeadr: unknown option "echoHeadr"\. Fix: did you mean "echoHeader"\?/,
    );
  });

  it('without the plugin, its option is unknown', async () => {
    await assert.rejects(createTestKit({ ingress: [{ service: 'http_status:404', originRequest: { echoHeader: 'x' } }] }), /ingress\[0\]\.originRequest\.echoHeader: unknown option "echoHeader"/);
  });

  it('without the plugin, echo: is a clear startup error', async () => {
    await assert.rejects(createTestKit({ ingress: [{ service: 'echo:' }] }), /ingress\[0\]\.service: no plugin serves "echo:"/);
  });
});
