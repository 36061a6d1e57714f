// Per-rule middleware: named instances, inline plugins, order after global middleware, and the errors in between.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { definePlugin, z } from '../../../core/index.ts';
import { createTestKit } from '../../../core/testing/index.ts';

/** Appends its label to a response header, so the order middleware ran in shows in the response. */
const mark = definePlugin({
  id: 'mark',
  options: z.strictObject({ label: z.string() }),
  connector(api, { label }) {
    api.use(async (ctx, next) => {
      const seen = ctx.res.getHeader('x-marks');
      ctx.res.setHeader('x-marks', seen ? `${String(seen)},${label}` : label);
      await next();
    });
  },
});

describe('rule middleware', () => {
  it('runs global middleware, then the rule\'s list in order; other rules get only the global ones', async () => {
    const kit = await createTestKit({
      plugins: [
        { use: mark, options: { label: 'global' } },
        { use: mark, name: 'first', options: { label: 'first' } },
        { use: mark, name: 'second', options: { label: 'second' } },
      ],
      ingress: [
        { hostname: 'a.example.test', service: 'http_status:200', middleware: ['second', 'first'] },
        { hostname: 'b.example.test', service: 'http_status:200', middleware: ['first', 'first'] },
        { service: 'http_status:200' },
      ],
    });
    assert.equal((await kit.inject({ host: 'a.example.test' })).headers['x-marks'], 'global,second,first');
    assert.equal((await kit.inject({ host: 'b.example.test' })).headers['x-marks'], 'global,first,first');
    assert.equal((await kit.inject({ host: 'c.example.test' })).headers['x-marks'], 'global');
    await kit.close();
  });

  it('refuses an instance name used twice', async () => {
    await assert.rejects(
      createTestKit({ plugins: [{ use: mark, name: 'x', options: { label: '1' } }, { use: mark, name: 'x', options: { label: '2' } }] }),
      /plugins\[1\]\.name: the plugin instance name "x" is used twice \(also at plugins\[0\]\)/,
    );
  });

  it('refuses a rule listing a plugin that adds no middleware', async () => {
    await assert.rejects(
      createTestKit({ ingress: [{ hostname: 'a.example.test', service: 'http_status:200', middleware: ['origin-status'] }, { service: 'http_status:404' }] }),
      /ingress\[0\]\.middleware\[0\]: plugin "origin-status" adds no request middleware/,
    );
  });

  it('refuses a middleware list that is not a list, and an item with unknown keys', async () => {
    await assert.rejects(createTestKit({ ingress: [{ service: 'http_status:200', middleware: 'compress' }] }), /ingress\[0\]\.middleware: must be a list/);
    await assert.rejects(
      createTestKit({ ingress: [{ service: 'http_status:200', middleware: [{ use: 'compress', name: 'c' }] }] }),
      /ingress\[0\]\.middleware\[0\]\.name: unknown key "name"/,
    );
  });
});
