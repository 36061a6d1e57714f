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
    ingress: [{ hostname: 'echo.example.test', service: 'echo:main' }, { service: 'http_status:404' }],
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

  it('without the plugin, echo: is a clear startup error', async () => {
    await assert.rejects(createTestKit({ ingress: [{ service: 'echo:' }] }), /ingress\[0\]\.service: no plugin serves "echo:"/);
  });
});
