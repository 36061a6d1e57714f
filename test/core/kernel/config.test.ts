// Tests for config loading: YAML, JSON and TypeScript files, cosmiconfig search, and the errors bad files raise.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadConfig, validateConfig } from '../../../core/kernel/config.ts';
import { ConfigError } from '../../../core/kernel/errors.ts';
import { assertConfigError } from '../../helpers/errors.ts';
import { definePlugin } from '../../../core/plugin.ts';
import { edgeSection, type BurrowConfig } from '../../../config/schema.ts';
import { createTestKit } from '../../../core/testing/index.ts';

const coreIndexUrl = pathToFileURL(path.resolve(import.meta.dirname, '../../../core/index.ts')).href;

let root: string;
let savedHome: string | undefined;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'burrow-config-test-'));
  // loadConfig falls back to $BURROW_HOME/config.yml; keep the developer's own home out of the tests.
  savedHome = process.env.BURROW_HOME;
  process.env.BURROW_HOME = path.join(root, 'home');
  await mkdir(process.env.BURROW_HOME);
});

after(async () => {
  if (savedHome === undefined) delete process.env.BURROW_HOME;
  else process.env.BURROW_HOME = savedHome;
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
/** A fresh folder holding `files` (name -> content); returns the folder. */
async function folder(files: Record<string, string>): Promise<string> {
  const dir = path.join(root, `case-${++counter}`);
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

/** What the schema fills in for a connector when the file leaves the keys out. */
const connectorDefaults = { 'ha-connections': 4, 'grace-period': 30_000, 'heartbeat-interval': 5_000, 'heartbeat-count': 5, retries: 0 };

describe('loadConfig: file formats', () => {
  const cases: Array<{ name: string; files: Record<string, string>; load: string; expected: Record<string, unknown> }> = [
    {
      name: 'YAML',
      files: { 'burrow.yaml': 'tunnel: app\nha-connections: 3\ngrace-period: 10s\ningress:\n  - hostname: app.example.test\n    service: http://127.0.0.1:3000\n  - service: http_status:404\n' },
      load: 'burrow.yaml',
      expected: {
        tunnel: 'app',
        'ha-connections': 3,
        'grace-period': 10_000,
        ingress: [{ hostname: 'app.example.test', service: 'http://127.0.0.1:3000' }, { service: 'http_status:404' }],
      },
    },
    {
      name: 'YAML with the .yml extension',
      files: { 'config.yml': 'tunnel: app\nretries: 2\n' },
      load: 'config.yml',
      expected: { tunnel: 'app', retries: 2 },
    },
    {
      name: 'an empty YAML file is the defaults',
      files: { 'empty.yaml': '' },
      load: 'empty.yaml',
      expected: connectorDefaults,
    },
    {
      name: 'JSON',
      files: { 'burrow.json': JSON.stringify({ tunnel: 'app', 'heartbeat-interval': '2s', edge: { pop: 'fra', zones: ['example.test'] } }) },
      load: 'burrow.json',
      expected: { tunnel: 'app', 'heartbeat-interval': 2_000 },
    },
    {
      name: 'a cloudflared config.yml with cloudflared-only keys',
      files: {
        'cloudflared.yml':
          'tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef\n' +
          'credentials-file: /root/.cloudflared/6ff42ae2-765d-4adf-8112-31c55c1551ef.json\n' +
          'no-autoupdate: true\n' +
          'protocol: http2\n' +
          'autoupdate-freq: 24h\n' +
          'logfile: /var/log/cloudflared.log\n' +
          'log-directory: /var/log\n' +
          'edge-ip-version: auto\n' +
          'region: us\n' +
          'warp-routing:\n  enabled: true\n' +
          'originRequest:\n  connectTimeout: 10s\n  noTLSVerify: true\n' +
          'ingress:\n  - hostname: app.example.test\n    service: http://localhost:8000\n  - service: http_status:404\n',
      },
      load: 'cloudflared.yml',
      expected: { tunnel: '6ff42ae2-765d-4adf-8112-31c55c1551ef', 'no-autoupdate': true, protocol: 'http2', region: 'us' },
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const dir = await folder(c.files);
      const file = path.join(dir, c.load);
      const loaded = await loadConfig(file);
      assert.equal(loaded.file, file);
      for (const [key, value] of Object.entries(c.expected)) assert.deepEqual((loaded.config as Record<string, unknown>)[key], value, key);
      if (c.expected === connectorDefaults) assert.deepEqual(loaded.config, connectorDefaults);
    });
  }

  it('fills edge defaults in a JSON config', async () => {
    const dir = await folder({ 'burrow.json': JSON.stringify({ edge: { pop: 'fra', zones: ['example.test'], gracePeriod: '5s' } }) });
    const { config } = await loadConfig(path.join(dir, 'burrow.json'));
    const edge = edgeSection(config);
    assert.equal(edge?.pop, 'fra');
    assert.equal(edge?.gracePeriod, 5_000);
    assert.equal(edge?.listen.tunnel, '0.0.0.0:7844');
    assert.deepEqual(edge?.zones, ['example.test']);
  });

  it('resolves a relative --config path against the cwd argument', async () => {
    const dir = await folder({ 'sub/burrow.yaml': 'tunnel: relative\n' });
    const loaded = await loadConfig('sub/burrow.yaml', dir);
    assert.equal(loaded.file, path.join(dir, 'sub', 'burrow.yaml'));
    assert.equal(loaded.config.tunnel, 'relative');
  });

  // TypeScript configs: `export default defineConfig({...})`, imported from the package entry.
  const tsSource = `import { defineConfig } from ${JSON.stringify(coreIndexUrl)};\n` +
    `const config = defineConfig({ tunnel: 'from-ts', 'ha-connections': 2, ingress: [{ service: 'http_status:404' }] });\n` +
    `export default config;\n`;
  const tsCases: Array<{ name: string; files: Record<string, string>; load: string }> = [
    { name: 'burrow.config.ts in an ESM package ("type": "module")', files: { 'package.json': '{"type":"module"}', 'burrow.config.ts': tsSource }, load: 'burrow.config.ts' },
    { name: 'burrow.config.mts', files: { 'burrow.config.mts': tsSource }, load: 'burrow.config.mts' },
    // Last: a folder with no package.json, where TypeScript files are compiled as CommonJS.
    { name: 'burrow.config.ts in a folder without package.json', files: { 'burrow.config.ts': tsSource }, load: 'burrow.config.ts' },
  ];
  for (const c of tsCases) {
    it(`TypeScript: ${c.name}`, async () => {
      const dir = await folder(c.files);
      const file = path.join(dir, c.load);
      const loaded = await loadConfig(file);
      assert.equal(loaded.file, file);
      assert.equal(loaded.config.tunnel, 'from-ts');
      assert.equal(loaded.config['ha-connections'], 2);
      assert.deepEqual(loaded.config.ingress, [{ service: 'http_status:404' }]);
    });
  }
});

describe('loadConfig: search from the cwd', () => {
  const cases: Array<{ name: string; files: Record<string, string>; cwd: string; found: string; tunnel: string }> = [
    { name: 'burrow.config.yaml in the cwd', files: { 'burrow.config.yaml': 'tunnel: yaml-here\n' }, cwd: '.', found: 'burrow.config.yaml', tunnel: 'yaml-here' },
    { name: '.burrowrc.json in the cwd', files: { '.burrowrc.json': '{"tunnel":"rc-here"}' }, cwd: '.', found: '.burrowrc.json', tunnel: 'rc-here' },
    { name: 'burrow.config.yaml in a parent folder', files: { 'burrow.config.yaml': 'tunnel: parent\n', 'a/b/.keep': '' }, cwd: 'a/b', found: 'burrow.config.yaml', tunnel: 'parent' },
    { name: 'the nearest file wins', files: { 'burrow.config.yaml': 'tunnel: far\n', 'a/.burrowrc.json': '{"tunnel":"near"}', 'a/b/.keep': '' }, cwd: 'a/b', found: 'a/.burrowrc.json', tunnel: 'near' },
    { name: '"burrow" key of package.json', files: { 'package.json': JSON.stringify({ name: 'site', burrow: { tunnel: 'from-package' } }) }, cwd: '.', found: 'package.json', tunnel: 'from-package' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = await folder(c.files);
      const loaded = await loadConfig(undefined, path.join(dir, c.cwd));
      assert.equal(loaded.file, path.join(dir, c.found));
      assert.equal(loaded.config.tunnel, c.tunnel);
    });
  }

  it('finds $BURROW_HOME/config.yml when nothing is found from the cwd', async () => {
    const dir = await folder({ '.keep': '' });
    const home = await folder({ 'config.yml': 'tunnel: from-home\n' });
    const saved = process.env.BURROW_HOME;
    process.env.BURROW_HOME = home;
    try {
      const loaded = await loadConfig(undefined, dir);
      assert.equal(loaded.file, path.join(home, 'config.yml'));
      assert.equal(loaded.config.tunnel, 'from-home');
    } finally {
      process.env.BURROW_HOME = saved;
    }
  });
});

describe('loadConfig: errors name the file, the key and a fix', () => {
  it('a --config path that does not exist', async () => {
    const dir = await folder({});
    const file = path.join(dir, 'missing.yaml');
    const error = await assertConfigError(loadConfig(file), { file, includes: ['does not exist', '--config'] });
    assert.equal(error.keyPath, undefined);
  });

  it('invalid YAML reports the line', async () => {
    const dir = await folder({ 'bad.yaml': 'tunnel: app\ningress:\n  - hostname: a.example.test\n    service: [http://x\n  - service: http_status:404\n' });
    const file = path.join(dir, 'bad.yaml');
    await assertConfigError(loadConfig(file), { file, includes: ['not valid YAML', /line \d+/] });
  });

  it('YAML with a tab-indented key reports the line it is on', async () => {
    const dir = await folder({ 'tabs.yaml': 'tunnel: app\ningress:\n\t- service: http_status:404\n' });
    const file = path.join(dir, 'tabs.yaml');
    await assertConfigError(loadConfig(file), { file, includes: ['not valid YAML', 'line 3'] });
  });

  const invalid: Array<{ name: string; content: string; keyPath: string; includes: Array<string | RegExp> }> = [
    { name: 'unknown top-level key', content: 'tunnel: app\nbogus-key: 1\n', keyPath: '(top level)', includes: ['unknown key "bogus-key"', 'Fix: see README.md#configuration'] },
    { name: 'a misspelt top-level key', content: 'tunnell: app\n', keyPath: '(top level)', includes: ['unknown key "tunnell"; did you mean "tunnel"?', 'Fix: rename "tunnell" to "tunnel"'] },
    { name: 'a misspelt cloudflared key', content: 'credential-file: app.json\n', keyPath: '(top level)', includes: ['did you mean "credentials-file"?'] },
    { name: 'a misspelt key under edge', content: 'edge:\n  lisen:\n    http: 127.0.0.1:8080\n', keyPath: 'edge', includes: ['unknown key "lisen"; did you mean "listen"?', 'Fix: rename "lisen" to "listen"'] },
    { name: 'a key under edge in the wrong case', content: 'edge:\n  datadir: /tmp/x\n', keyPath: 'edge', includes: ['did you mean "dataDir"?'] },
    { name: 'a misspelt key under edge.listen', content: 'edge:\n  listen:\n    htpp: 127.0.0.1:8080\n', keyPath: 'edge.listen', includes: ['did you mean "http"?'] },
    { name: 'ha-connections is a string', content: 'ha-connections: "x"\n', keyPath: 'ha-connections', includes: [/number/] },
    { name: 'ha-connections out of range', content: 'ha-connections: 0\n', keyPath: 'ha-connections', includes: [/>=\s*1/] },
    { name: 'edge.listen.tunnel is not host:port', content: 'edge:\n  listen:\n    tunnel: nope\n', keyPath: 'edge.listen.tunnel', includes: ['host:port'] },
    { name: 'unknown key under edge', content: 'edge:\n  pop: fra\n  colour: blue\n', keyPath: 'edge', includes: ['unknown key "colour"'] },
    { name: 'edge zone not lowercase', content: 'edge:\n  zones: [Example.Test]\n', keyPath: 'edge.zones[0]', includes: ['DNS name'] },
    { name: 'grace-period is not a duration', content: 'grace-period: soon\n', keyPath: 'grace-period', includes: ['"soon"'] },
    { name: 'loglevel is not a level', content: 'loglevel: loud\n', keyPath: 'loglevel', includes: ['"info"'] },
    { name: 'ingress is a mapping', content: 'ingress:\n  service: http_status:404\n', keyPath: 'ingress', includes: [/array/] },
    { name: 'a plugin spec with an unknown key', content: 'plugins:\n  - use: metrics\n    option: {}\n', keyPath: 'plugins[0]', includes: ['unknown key "option"; did you mean "options"?'] },
    { name: 'the file is a list, not a mapping', content: '- a\n- b\n', keyPath: '(top level)', includes: [/object/] },
  ];
  for (const c of invalid) {
    it(c.name, async () => {
      const dir = await folder({ 'burrow.yaml': c.content });
      const file = path.join(dir, 'burrow.yaml');
      await assertConfigError(loadConfig(file), { file, keyPath: c.keyPath, includes: c.includes });
    });
  }

  it('a JSON file that does not parse names the file', async () => {
    const dir = await folder({ 'burrow.json': '{"tunnel": ' });
    const file = path.join(dir, 'burrow.json');
    await assert.rejects(loadConfig(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.message.startsWith(`${file}: `), error.message);
      return true;
    });
  });

  it('a broken file found by search names that file', async () => {
    const dir = await folder({ 'burrow.config.yaml': 'ha-connections: many\n', 'a/.keep': '' });
    const file = path.join(dir, 'burrow.config.yaml');
    await assertConfigError(loadConfig(undefined, path.join(dir, 'a')), { file, keyPath: 'ha-connections' });
  });
});

describe('validateConfig', () => {
  const accepted: Array<[name: string, raw: unknown]> = [
    ['undefined is an empty config', undefined],
    ['null is an empty config', null],
    ['no-autoupdate and protocol (cloudflared-only)', { 'no-autoupdate': true, protocol: 'http2' }],
    ['protocol quic (cloudflared-only, ignored)', { protocol: 'quic' }],
    ['durations as numbers of seconds', { 'grace-period': 30, 'heartbeat-interval': 5 }],
    ['plugins as names and {use, options}', { plugins: ['metrics', { use: './local.ts', options: { a: 1 } }] }],
    ['a plugin switched off with enabled: false', { plugins: [{ use: 'discovery-static', enabled: false }], edge: { plugins: [{ use: 'metrics', enabled: false }] } }],
    ['a full edge section', { edge: { pop: 'fra', listen: { http: '0.0.0.0:80', tunnel: '[::]:7844', api: '127.0.0.1:7845' }, zones: ['example.test'], dataDir: '/tmp/x' } }],
  ];
  for (const [name, raw] of accepted) {
    it(`accepts ${name}`, () => {
      assert.doesNotThrow(() => validateConfig(raw, 'burrow.yaml'));
    });
  }

  it('fills the connector defaults, so plugins read the values the connector uses', () => {
    assert.deepEqual(validateConfig({}), connectorDefaults);
    assert.deepEqual(validateConfig({ 'ha-connections': 2, 'grace-period': '1s' }), { ...connectorDefaults, 'ha-connections': 2, 'grace-period': 1_000 });
  });

  it('hands connector plugins the resolved config as api.settings', async () => {
    let seen: BurrowConfig | undefined;
    const kit = await createTestKit({ plugins: [definePlugin({ id: 'settings-reader', connector: (api) => void (seen = api.settings) })] });
    await kit.close();
    const { ingress: _rules, originRequest: _defaults, ...rest } = seen!;
    assert.deepEqual(rest, connectorDefaults);
  });

  it('converts durations to milliseconds', () => {
    const config = validateConfig({ 'grace-period': '1m30s', 'heartbeat-interval': '500ms' });
    assert.equal(config['grace-period'], 90_000);
    assert.equal(config['heartbeat-interval'], 500);
  });

  const rejected: Array<[name: string, raw: unknown, keyPath: string]> = [
    ['ha-connections as a string', { 'ha-connections': 'x' }, 'ha-connections'],
    ['edge.listen.tunnel without a port', { edge: { listen: { tunnel: 'nope' } } }, 'edge.listen.tunnel'],
    ['retries negative', { retries: -1 }, 'retries'],
    ['metrics without a port', { metrics: 'localhost' }, 'metrics'],
    ['heartbeat-count too large', { 'heartbeat-count': 1000 }, 'heartbeat-count'],
    ['edge.pop with capitals', { edge: { pop: 'FRA' } }, 'edge.pop'],
    ['enabled as a string', { plugins: [{ use: 'metrics', enabled: 'no' }] }, 'plugins[0]'],
  ];
  for (const [name, raw, keyPath] of rejected) {
    it(`rejects ${name} naming ${keyPath}`, () => {
      assert.throws(
        () => validateConfig(raw, '/etc/burrow/burrow.yaml'),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.equal(error.keyPath, keyPath);
          assert.ok(error.message.startsWith(`/etc/burrow/burrow.yaml: ${keyPath}: `), error.message);
          assert.ok(error.message.includes('Fix: '), error.message);
          return true;
        },
      );
    });
  }

  it('lists every problem, not only the first', () => {
    assert.throws(
      () => validateConfig({ retries: -1, loglevel: 'loud' }, 'burrow.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error.message.includes('retries'), error.message);
        assert.ok(error.message.includes('also loglevel'), error.message);
        return true;
      },
    );
  });
});
