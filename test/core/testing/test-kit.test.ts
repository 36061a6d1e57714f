// The plugin test kit: requests run through edge middleware, the in-memory tunnel, connector middleware and the origin.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { defineOrigin, definePlugin, z } from '../../../core/index.ts';
import { createTestKit } from '../../../core/testing/index.ts';

/** A connector plugin that records the order middleware ran in, and answers requests itself (an origin). */
function tracer(events: string[]) {
  return definePlugin({
    id: 'tracer',
    options: z.strictObject({ label: z.string() }),
    edge(api, { label }) {
      api.use(async (ctx, next) => {
        events.push(`edge ${label} ${ctx.clientIp}`);
        await next();
      });
      return () => void events.push('edge disposed');
    },
    connector(api, { label }) {
      api.use(async (ctx, next) => {
        events.push(`connector ${label} ${ctx.clientIp} ${ctx.req.headers['burrow-ray'] === ctx.ray}`);
        await next();
      });
      return () => void events.push('connector disposed');
    },
    origins: [
      defineOrigin({
        schemes: ['trace'],
        create: () => ({
          async serve({ req, res }) {
            let bytes = 0;
            for await (const chunk of req) bytes += (chunk as Buffer).length;
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ method: req.method, url: req.url, bytes, host: req.headers[':authority'] }));
          },
        }),
      }),
    ],
  });
}

describe('createTestKit', () => {
  it('runs edge middleware, then connector middleware, then the origin, and disposes both on close', async () => {
    const events: string[] = [];
    const plugin = tracer(events);
    const kit = await createTestKit({
      plugins: [{ use: plugin, options: { label: 'c' } }],
      edgePlugins: [{ use: plugin, options: { label: 'e' } }],
      ingress: [{ service: 'trace:' }],
    });
    const res = await kit.inject({ host: 'app.example.test', path: '/p?q=1', method: 'POST', body: 'hello', clientIp: '203.0.113.4' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { method: 'POST', url: '/p?q=1', bytes: 5, host: 'app.example.test' });
    assert.match(res.ray, /^[0-9a-f]{16}-test$/);
    assert.deepEqual(events, ['edge e 203.0.113.4', 'connector c 203.0.113.4 true']);
    await kit.close();
    assert.deepEqual(events.slice(2).sort(), ['connector disposed', 'edge disposed']);
  });

  it('streams a request body of several megabytes', async () => {
    const kit = await createTestKit({ plugins: [{ use: tracer([]), options: { label: 'x' } }], ingress: [{ service: 'trace:' }] });
    const chunks = Array.from({ length: 80 }, () => Buffer.alloc(64 * 1024, 1));
    const res = await kit.inject({ method: 'PUT', body: Readable.from(chunks) });
    assert.equal(res.json<{ bytes: number }>().bytes, 80 * 64 * 1024);
    await kit.close();
  });

  it('gives every request its own ray id, and routes by ingress rule', async () => {
    const kit = await createTestKit({ ingress: [{ hostname: 'a.example.test', service: 'http_status:201' }, { service: 'http_status:404' }] });
    const [a, b] = await Promise.all([kit.inject({ host: 'a.example.test' }), kit.inject({ host: 'b.example.test' })]);
    assert.equal(a.status, 201);
    assert.equal(b.status, 404);
    assert.notEqual(a.ray, b.ray);
    await kit.close();
  });

  it('validates options of a plugin given as a definition', async () => {
    await assert.rejects(createTestKit({ plugins: [{ use: tracer([]), options: { label: 3 } }] }), /plugins\[0\]\.options\.label: plugin "tracer": .*expected string/);
  });

  it('rejects an inject that never gets a complete response', async () => {
    const stuck = definePlugin({ id: 'stuck', connector: (api) => api.use(() => new Promise(() => {})) });
    const kit = await createTestKit({ plugins: [stuck] });
    await assert.rejects(kit.inject({ timeoutMs: 300 }), /no complete response to GET \/ within 300 ms/);
    await kit.close();
  });

  it('says that edge API routes are not part of the kit', async () => {
    const routed = definePlugin({ id: 'routed', edge: (api) => api.route('GET', '/x', async () => ({ json: {} }), { auth: 'none' }) });
    await assert.rejects(createTestKit({ edgePlugins: [routed] }), /plugin "routed" failed in edge setup: the test kit has no edge API/);
  });
});
