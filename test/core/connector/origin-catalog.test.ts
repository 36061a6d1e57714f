// Tests for the origin catalog: which declared adapter serves a scheme, how its options resolve, and how its failures are reported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { Ingress } from '../../../core/connector/ingress.ts';
import { OriginCatalog } from '../../../core/connector/origin-catalog.ts';
import { defineOrigin, type Origin } from '../../../core/connector/origin.ts';
import { ConfigError } from '../../../core/kernel/errors.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { PluginError } from '../../../core/kernel/plugin.ts';
import { definePlugin } from '../../../core/plugin.ts';

const named = (name: string): Origin & { name: string } => ({ name, serve: async () => undefined });
const env = { configDir: '/tmp', log: silentLogger };

function catalogOf(...plugins: Array<ReturnType<typeof definePlugin<any>> | { definition: ReturnType<typeof definePlugin<any>>; options: unknown }>) {
  return OriginCatalog.of(plugins.map((plugin) => ('definition' in plugin ? plugin : { definition: plugin, options: undefined })));
}

describe('OriginCatalog', () => {
  it('gives a scheme two plugins claim to the earlier one, as bail hooks did', () => {
    const first = definePlugin({ id: 'first', origins: [defineOrigin({ schemes: ['echo'], create: () => named('first') })] });
    const second = definePlugin({ id: 'second', origins: [defineOrigin({ schemes: ['echo', 'other'], create: () => named('second') })] });
    const catalog = catalogOf(first, second);
    const ingress = Ingress.parse([{ hostname: 'a.test', service: 'other:' }, { service: 'echo:' }], undefined, { origins: catalog });
    assert.deepEqual(ingress.rules.map((rule) => (catalog.create(rule, env) as Origin & { name: string }).name), ['second', 'first']);
    assert.deepEqual(catalog.schemes, ['echo', 'other']);
  });

  it('hands create the parsed target, the resolved options and the plugin options', () => {
    const seen: unknown[] = [];
    const plugin = definePlugin({
      id: 'counter',
      options: z.strictObject({ label: z.string() }),
      origins: [
        defineOrigin({
          schemes: ['count'],
          options: z.object({ step: z.number().int().default(1).meta({ hint: 'use a whole number' }) }),
          parse: (service) => Number(service.rest),
          create(start, { originRequest, pluginOptions }) {
            seen.push({ start, step: originRequest.step, label: (pluginOptions as { label: string }).label });
            return named('count');
          },
        }),
      ],
    });
    const catalog = catalogOf({ definition: plugin, options: { label: 'x' } });
    const ingress = Ingress.parse([{ hostname: 'a.test', service: 'count:5', originRequest: { step: 2 } }, { service: 'count:7' }], { step: 3 }, { origins: catalog });
    for (const rule of ingress.rules) catalog.create(rule, env);
    assert.deepEqual(seen, [{ start: 5, step: 2, label: 'x' }, { start: 7, step: 3, label: 'x' }]);
  });

  it('declares the adapters of a plugin listed as several named instances once', () => {
    const plugin = definePlugin({ id: 'echo', origins: [defineOrigin({ schemes: ['echo'], examples: ['echo:'], create: () => named('echo') })] });
    const catalog = OriginCatalog.of([{ definition: plugin, options: 1 }, { definition: plugin, options: 2 }]);
    assert.equal(catalog.serviceHint, 'use echo:');
  });

  it('reports what create throws as its plugin failing, and a ConfigError as it is', () => {
    const cause = new Error('boom');
    const config = new ConfigError('the folder is missing', { keyPath: 'ingress[0].service', hint: 'create it' });
    const broken = definePlugin({ id: 'broken', origins: [defineOrigin({ schemes: ['boom'], create: () => { throw cause; } })] });
    const strict = definePlugin({ id: 'strict', origins: [defineOrigin({ schemes: ['strict'], create: () => { throw config; } })] });
    const catalog = catalogOf(broken, strict);
    const [boom, refused] = Ingress.parse([{ hostname: 'a.test', service: 'boom:' }, { service: 'strict:' }], undefined, { origins: catalog }).rules;
    assert.throws(() => catalog.create(boom!, env), (error) => error instanceof PluginError && error.pluginId === 'broken' && error.cause === cause && /ingress\[0\]/.test(error.message));
    assert.throws(() => catalog.create(refused!, env), (error) => error === config);
  });

  it('reports a check across options at the rule that sets them', () => {
    const plugin = definePlugin({
      id: 'ranged',
      origins: [
        defineOrigin({
          schemes: ['ranged'],
          options: z.object({ min: z.number().default(0), max: z.number().default(10) }).refine((o) => o.min <= o.max, { message: 'min is above max', path: ['min'] }),
          create: () => named('ranged'),
        }),
      ],
    });
    assert.throws(
      () => Ingress.parse([{ service: 'ranged:', originRequest: { min: 20 } }], undefined, { file: 'burrow.yml', origins: catalogOf(plugin) }),
      (error) => error instanceof ConfigError && error.keyPath === 'ingress[0].originRequest.min' && error.message.includes('min is above max'),
    );
  });
});
