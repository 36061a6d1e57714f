// Tests for the plugin loader: resolving built-in, local and missing plugins, role slots, enabled: false, requires, option validation, and setup/dispose order.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { resolvePlugins, resolveRuntimePlugins, runDisposers, setupPlugins, type PluginSource, type ResolvedPlugin } from '../../../core/kernel/loader.ts';
import { defaultPlugins } from '../../../config/default.ts';
import { ConfigError } from '../../../core/kernel/errors.ts';
import { assertConfigError } from '../../helpers/errors.ts';
import { PluginError } from '../../../core/kernel/plugin.ts';
import type { PluginDefinition } from '../../../core/plugin.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const pluginModuleUrl = pathToFileURL(path.join(repo, 'core/plugin.ts')).href;
// Plugins written to a temp folder cannot resolve bare `zod`; point them at the repo's copy.
const zodUrl = import.meta.resolve('zod');

let dir: string;
let configFile: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'burrow-loader-test-'));
  configFile = path.join(dir, 'burrow.yaml');
  await writeFile(configFile, '');
  const files: Record<string, string> = {
    'local-ts.ts':
      `import { definePlugin } from ${JSON.stringify(pluginModuleUrl)};\n` +
      `import { z } from ${JSON.stringify(zodUrl)};\n` +
      `const options: z.ZodType<{ greeting: string; port?: number }, any> = z.strictObject({ greeting: z.string().default('hi'), port: z.number().int().optional() });\n` +
      `export default definePlugin({ id: 'local-ts', options, connector() {} });\n`,
    'local.mjs': `export default { id: 'local-mjs', edge() {} };\n`,
    'no-default.mjs': `export const plugin = { id: 'named-only' };\n`,
    'no-id.mjs': `export default { connector() {} };\n`,
    'throws-on-import.mjs': `throw new Error('boom while importing');\n`,
    // Stand-ins for config/default.ts: one default per kind of role, and one without a role.
    'default-registry.mjs': `export default { id: 'default-registry', provides: ['registry'], edge() {} };\n`,
    'default-discovery.mjs': `export default { id: 'default-discovery', provides: ['edge-discovery'], connector() {} };\n`,
    'default-plain.mjs': `export default { id: 'default-plain', edge() {} };\n`,
  };
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const at = (spec: PluginSource['spec'], index: number): PluginSource => ({ spec, keyPath: ['plugins', index] });

/** Asserts a ConfigError naming the config file and `keyPath`, with a message containing `includes`. */
function rejectsWithConfigError(promise: Promise<unknown>, keyPath: string, includes: string[]): Promise<ConfigError> {
  return assertConfigError(promise, { file: configFile, keyPath, includes });
}

describe('resolvePlugins', () => {
  it('resolves a built-in plugin by id', async () => {
    const [plugin, ...rest] = await resolvePlugins([at('discovery-static', 0)], configFile);
    assert.equal(rest.length, 0);
    assert.equal(plugin!.definition.id, 'discovery-static');
    assert.equal(typeof (plugin!.definition as PluginDefinition).connector, 'function');
    assert.equal(plugin!.keyPath, 'plugins[0]');
    assert.equal(plugin!.source, path.join(repo, 'plugins', 'discovery-static', 'index.ts'));
  });

  it('labels plugins that come from the defaults as (built-in)', async () => {
    const [plugin] = await resolvePlugins([{ spec: 'origin-status', keyPath: [] }]);
    assert.equal(plugin!.keyPath, '(built-in)');
  });

  const local: Array<{ name: string; spec: PluginSource['spec']; id: string; options: unknown; file: string }> = [
    { name: 'a local .ts plugin, relative to the config file', spec: './local-ts.ts', id: 'local-ts', options: { greeting: 'hi' }, file: 'local-ts.ts' },
    { name: 'a local .ts plugin with options (defaults filled)', spec: { use: './local-ts.ts', options: { port: 8080 } }, id: 'local-ts', options: { greeting: 'hi', port: 8080 }, file: 'local-ts.ts' },
    { name: 'a local .mjs plugin', spec: './local.mjs', id: 'local-mjs', options: undefined, file: 'local.mjs' },
  ];
  for (const c of local) {
    it(c.name, async () => {
      const [plugin] = await resolvePlugins([at(c.spec, 0)], configFile);
      assert.equal(plugin!.definition.id, c.id);
      assert.deepEqual(plugin!.options, c.options);
      assert.equal(plugin!.source, path.join(dir, c.file));
    });
  }

  it('resolves relative paths against the config file folder, not the cwd', async () => {
    assert.notEqual(process.cwd(), dir);
    const [plugin] = await resolvePlugins([at('./local.mjs', 0)], configFile);
    assert.equal(plugin!.source, path.join(dir, 'local.mjs'));
  });

  it('accepts an absolute path', async () => {
    const [plugin] = await resolvePlugins([at(path.join(dir, 'local.mjs'), 0)], '/elsewhere/burrow.yaml');
    assert.equal(plugin!.definition.id, 'local-mjs');
  });

  const failures: Array<{ name: string; sources: PluginSource[]; keyPath: string; includes: string[]; fix: boolean }> = [
    { name: 'a path that does not resolve', sources: [at('./missing-plugin.ts', 2)], keyPath: 'plugins[2]', includes: ['"./missing-plugin.ts"', 'does not resolve'], fix: true },
    { name: 'an unknown name', sources: [at('no-such-burrow-plugin', 3)], keyPath: 'plugins[3]', includes: ['unknown plugin "no-such-burrow-plugin"'], fix: true },
    { name: 'a module without a default export', sources: [at('./no-default.mjs', 0)], keyPath: 'plugins[0]', includes: ['no default export', 'definePlugin'], fix: true },
    { name: 'a default export without an id', sources: [at('./no-id.mjs', 1)], keyPath: 'plugins[1]', includes: ['definePlugin'], fix: true },
    { name: 'a module that throws while importing', sources: [at('./throws-on-import.mjs', 0)], keyPath: 'plugins[0]', includes: ['could not be loaded', 'boom while importing'], fix: false },
    { name: 'options for a plugin that takes none', sources: [at({ use: './local.mjs', options: { a: 1 } }, 4)], keyPath: 'plugins[4].options', includes: ['"local-mjs"', 'takes no options'], fix: true },
  ];
  for (const c of failures) {
    it(`rejects ${c.name}`, async () => {
      const error = await rejectsWithConfigError(resolvePlugins(c.sources, configFile), c.keyPath, c.includes);
      if (c.fix) assert.ok(error.message.includes('Fix: '), error.message);
    });
  }

  const badOptions: Array<{ name: string; options: unknown; keyPath: string; includes: string[] }> = [
    { name: 'a value of the wrong type', options: { port: 'eighty' }, keyPath: 'plugins[1].options.port', includes: ['number'] },
    { name: 'an unknown option', options: { colour: 'blue' }, keyPath: 'plugins[1].options', includes: ['"colour"'] },
    { name: 'a misspelt option', options: { greting: 'hey' }, keyPath: 'plugins[1].options', includes: ['unknown option "greting"; did you mean "greeting"?', 'Fix: rename "greting" to "greeting"'] },
  ];
  for (const c of badOptions) {
    it(`rejects invalid options (${c.name}) naming ${c.keyPath} and the plugin once`, async () => {
      const error = await rejectsWithConfigError(
        resolvePlugins([at('origin-status', 0), at({ use: './local-ts.ts', options: c.options }, 1)], configFile),
        c.keyPath,
        ['plugin "local-ts"', ...c.includes],
      );
      // One readable sentence: the key path and the fix appear once each.
      assert.equal(error.message.split(`${c.keyPath}:`).length - 1, 1, `key path repeated in "${error.message}"`);
      assert.equal(error.message.split('Fix: ').length - 1, 1, `"Fix:" repeated in "${error.message}"`);
    });
  }

  it('a plugin listed twice keeps its first position and the later options', async () => {
    const resolved = await resolvePlugins(
      [
        { spec: 'origin-status', keyPath: [] },
        at({ use: './local-ts.ts', options: { greeting: 'first' } }, 0),
        at('./local.mjs', 1),
        at({ use: './local-ts.ts', options: { greeting: 'second' } }, 2),
      ],
      configFile,
    );
    assert.deepEqual(
      resolved.map((p) => p.definition.id),
      ['origin-status', 'local-ts', 'local-mjs'],
    );
    assert.deepEqual(resolved[1]!.options, { greeting: 'second' });
    assert.equal(resolved[1]!.keyPath, 'plugins[2]');
  });

  it('a built-in re-listed in the config with options replaces the default entry', async () => {
    const resolved = await resolvePlugins([{ spec: 'origin-status', keyPath: [] }, at('origin-status', 0)], configFile);
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0]!.keyPath, 'plugins[0]');
  });
});

describe('resolveRuntimePlugins: role slots, enabled: false and requires', () => {
  const defaults = ['./default-plain.mjs', './default-registry.mjs', './default-discovery.mjs'];
  const definition = (id: string, extra: Partial<PluginDefinition> = {}): PluginDefinition => ({ id, ...extra });
  const runtime = (...listed: PluginSource['spec'][]) => resolveRuntimePlugins({ defaults, listed: listed.map((spec, i) => at(spec, i)), configFile });
  const order = (plugins: ResolvedPlugin[]) => plugins.map((p) => `${p.definition.id} ${p.keyPath}`);

  it('loads the defaults in order, then plugins without a role', async () => {
    assert.deepEqual(order(await runtime({ use: definition('extra') })), [
      'default-plain (built-in)',
      'default-registry (built-in)',
      'default-discovery (built-in)',
      'extra plugins[0]',
    ]);
  });

  it('a plugin for an exclusive role takes the default\'s slot and the default is not loaded', async () => {
    const plugins = await runtime({ use: definition('extra') }, { use: definition('file-registry', { provides: ['registry'] }) });
    assert.deepEqual(order(plugins), ['default-plain (built-in)', 'file-registry plugins[1]', 'default-discovery (built-in)', 'extra plugins[0]']);
  });

  it('plugins for a resolver-chain role answer first, in config order, with the default right behind as the fallback', async () => {
    const plugins = await runtime({ use: definition('dns-discovery', { provides: ['edge-discovery'] }) }, { use: definition('file-discovery', { provides: ['edge-discovery'] }) });
    assert.deepEqual(order(plugins), [
      'default-plain (built-in)',
      'default-registry (built-in)',
      'dns-discovery plugins[0]',
      'file-discovery plugins[1]',
      'default-discovery (built-in)',
    ]);
  });

  it('a default re-listed with options keeps its slot, and a plugin for its role still goes before it', async () => {
    const plugins = await runtime('./default-discovery.mjs', { use: definition('dns-discovery', { provides: ['edge-discovery'] }) });
    assert.deepEqual(order(plugins), ['default-plain (built-in)', 'default-registry (built-in)', 'dns-discovery plugins[1]', 'default-discovery plugins[0]']);
  });

  it('enabled: false switches a default off; a later entry switches it back on', async () => {
    assert.deepEqual(order(await runtime({ use: './default-discovery.mjs', enabled: false })), ['default-plain (built-in)', 'default-registry (built-in)']);
    assert.deepEqual(order(await runtime({ use: './default-discovery.mjs', enabled: false }, './default-discovery.mjs')), [
      'default-plain (built-in)',
      'default-registry (built-in)',
      'default-discovery plugins[1]',
    ]);
  });

  it('enabled: false on the default of a role still lets a listed plugin fill the slot', async () => {
    const plugins = await runtime({ use: './default-discovery.mjs', enabled: false }, { use: definition('dns-discovery', { provides: ['edge-discovery'] }) });
    assert.deepEqual(order(plugins), ['default-plain (built-in)', 'default-registry (built-in)', 'dns-discovery plugins[1]']);
  });

  it('enabled: false for a plugin that is not loaded anyway changes nothing, and its options are not checked', async () => {
    const plugins = await runtime({ use: './local-ts.ts', enabled: false, options: { port: 'eighty' } });
    assert.deepEqual(order(plugins), ['default-plain (built-in)', 'default-registry (built-in)', 'default-discovery (built-in)']);
  });

  it('a misspelt built-in id under enabled: false gets the unknown-plugin error with a did-you-mean', async () => {
    const error = await rejectsWithConfigError(
      resolveRuntimePlugins({ defaults: defaultPlugins, listed: [at({ use: 'discovery-statik', enabled: false }, 3)], configFile }),
      'plugins[3]',
      ['unknown plugin "discovery-statik"', 'did you mean "discovery-static"?'],
    );
    assert.match(error.message, /Fix: rename it to "discovery-static"/);
  });

  it('two config-listed plugins for one exclusive role are an error naming both entries', async () => {
    await rejectsWithConfigError(
      runtime({ use: definition('file-registry', { provides: ['registry'] }) }, { use: definition('redis-registry', { provides: ['registry'] }) }),
      'plugins[1]',
      ['"redis-registry"', '"file-registry" (plugins[0])', 'registry role', 'Fix: keep one of them: remove plugins[1] or plugins[0]'],
    );
  });

  it('a re-listed default and a replacement for its exclusive role clash too', async () => {
    await rejectsWithConfigError(runtime({ use: definition('file-registry', { provides: ['registry'] }) }, './default-registry.mjs'), 'plugins[1]', [
      '"default-registry"',
      '"file-registry" (plugins[0])',
    ]);
  });

  it('an unknown role in provides is an error with a did-you-mean', async () => {
    await rejectsWithConfigError(runtime({ use: definition('odd', { provides: ['registy' as never] }) }), 'plugins[0]', ['unknown role "registy"', 'did you mean "registry"?']);
  });

  it('a plugin whose requires is loaded (a default or another listed plugin) loads', async () => {
    const plugins = await runtime({ use: definition('needs-plain', { requires: ['default-plain', 'helper'] }) }, { use: definition('helper') });
    assert.deepEqual(order(plugins).slice(3), ['needs-plain plugins[0]', 'helper plugins[1]']);
  });

  it('a missing requirement is an error naming the plugin, where it was listed, the missing plugin and the fix', async () => {
    await rejectsWithConfigError(runtime({ use: definition('other') }, { use: definition('needs-helper', { requires: ['helper'] }) }), 'plugins[1]', [
      'plugin "needs-helper" (listed at plugins[1]) requires the plugin "helper", which is not loaded',
      'Fix: add `- helper` to plugins',
    ]);
  });

  it('a requirement switched off with enabled: false says where to switch it back on', async () => {
    await rejectsWithConfigError(
      runtime({ use: definition('needs-plain', { requires: ['default-plain'] }) }, { use: './default-plain.mjs', enabled: false }),
      'plugins[0]',
      ['requires the plugin "default-plain", which is switched off at plugins[1]', 'Fix: remove `enabled: false` from plugins[1]'],
    );
  });

  it('gives the built-in defaults their roles: a listed registry replaces registry-memory, the built-in discovery stays as the fallback', async () => {
    const builtin = (plugins: ResolvedPlugin[]) => plugins.map((p) => p.definition.id);
    const plugins = await resolveRuntimePlugins({
      defaults: defaultPlugins,
      listed: [at({ use: definition('file-registry', { provides: ['registry'] }) }, 0), at({ use: definition('dns-discovery', { provides: ['edge-discovery'] }) }, 1)],
      configFile,
    });
    const ids = builtin(plugins);
    assert.ok(!ids.includes('registry-memory'), ids.join(', '));
    assert.equal(ids.indexOf('file-registry'), builtin(await resolveRuntimePlugins({ defaults: defaultPlugins, listed: [], configFile })).indexOf('registry-memory'));
    // Ahead of the built-in discovery plugins, which stay behind it in their order: SRV records, then static addresses.
    assert.equal(ids.indexOf('dns-discovery') + 1, ids.indexOf('discovery-srv'));
    assert.equal(ids.indexOf('discovery-srv') + 1, ids.indexOf('discovery-static'));
    const off = builtin(await resolveRuntimePlugins({ defaults: defaultPlugins, listed: [at({ use: 'discovery-static', enabled: false }, 0)], configFile }));
    assert.ok(!off.includes('discovery-static'));
  });
});

describe('setupPlugins', () => {
  type Api = { name: string };
  function plugin(id: string, connector?: PluginDefinition<unknown>['connector'], options?: unknown): ResolvedPlugin {
    return { definition: { id, connector } as PluginDefinition<unknown>, options, keyPath: `plugins[${id}]`, source: `/virtual/${id}` };
  }

  it('runs setups in order with their api and options, and returns disposers in reverse order', async () => {
    const calls: string[] = [];
    const plugins = ['a', 'b', 'c'].map((id) =>
      plugin(
        id,
        async (api, options) => {
          await new Promise((resolve) => setImmediate(resolve));
          calls.push(`setup ${id} api=${(api as unknown as Api).name} options=${JSON.stringify(options)}`);
          return () => void calls.push(`dispose ${id}`);
        },
        { n: id },
      ),
    );
    const disposers = await setupPlugins<Api>(plugins, 'connector', (p) => ({ name: `api-for-${p.definition.id}` }));
    assert.deepEqual(calls, ['setup a api=api-for-a options={"n":"a"}', 'setup b api=api-for-b options={"n":"b"}', 'setup c api=api-for-c options={"n":"c"}']);
    assert.equal(disposers.length, 3);
    await runDisposers(disposers);
    assert.deepEqual(calls.slice(3), ['dispose c', 'dispose b', 'dispose a']);
  });

  it('skips plugins without a setup for this runtime and setups that return nothing', async () => {
    const calls: string[] = [];
    const disposers = await setupPlugins<Api>(
      [plugin('edge-only'), plugin('no-dispose', () => void calls.push('no-dispose')), plugin('d', () => () => void calls.push('dispose d'))],
      'connector',
      () => ({ name: 'x' }),
    );
    assert.deepEqual(calls, ['no-dispose']);
    assert.equal(disposers.length, 1);
  });

  it('wraps a throwing setup in a PluginError naming the plugin', async () => {
    const cause = new Error('port already taken');
    await assert.rejects(
      setupPlugins<Api>([plugin('ok'), plugin('broken', () => { throw cause; })], 'connector', () => ({ name: 'x' })),
      (error: unknown) => {
        assert.ok(error instanceof PluginError, String(error));
        assert.equal(error.pluginId, 'broken');
        assert.equal(error.code, 'BURROW_ERR_PLUGIN');
        assert.equal(error.cause, cause);
        assert.match(error.message, /plugin "broken" failed in connector setup: port already taken/);
        return true;
      },
    );
  });

  it('wraps a rejected async setup too', async () => {
    await assert.rejects(
      setupPlugins<Api>([plugin('async-broken', async () => Promise.reject(new Error('nope')))], 'connector', () => ({ name: 'x' })),
      (error: unknown) => error instanceof PluginError && error.pluginId === 'async-broken' && error.message.includes('nope'),
    );
  });

  it('passes a PluginError thrown by a setup through unchanged', async () => {
    const inner = new PluginError('inner', 'hook resolveOrigin', new Error('x'));
    await assert.rejects(
      setupPlugins<Api>([plugin('outer', () => { throw inner; })], 'connector', () => ({ name: 'x' })),
      (error: unknown) => error === inner,
    );
  });

  it('passes a ConfigError thrown by a setup through unchanged: a user mistake is not a plugin crash', async () => {
    const mistake = new ConfigError('"dataDir" is not writable', { file: 'burrow.yaml', keyPath: 'plugins[0].options.dataDir', hint: 'pick a folder you own' });
    await assert.rejects(
      setupPlugins<Api>([plugin('picky', () => { throw mistake; })], 'connector', () => ({ name: 'x' })),
      (error: unknown) => error === mistake,
    );
  });

  it('runs the disposers registered so far, newest first, when a later setup throws', async () => {
    const calls: string[] = [];
    const plugins = [
      plugin('first', () => () => void calls.push('dispose first')),
      plugin('second', () => () => {
        calls.push('dispose second');
        throw new Error('a failing disposer does not stop the others');
      }),
      plugin('third', () => () => void calls.push('dispose third')),
      plugin('fourth', () => {
        throw new Error('fourth failed');
      }),
      plugin('never', () => void calls.push('setup never')),
    ];
    await assert.rejects(setupPlugins<Api>(plugins, 'connector', () => ({ name: 'x' })), (error: unknown) => error instanceof PluginError && error.pluginId === 'fourth');
    assert.deepEqual(calls, ['dispose third', 'dispose second', 'dispose first']);
  });
});
