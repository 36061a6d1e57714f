// Fuzzing the config loader: any document, as data, as YAML or JSON text, or as a file found by path or by search,
// gives a valid config or a ConfigError that names the file (and the key path for a value the schema refuses).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { loadConfig, parseConfigText, validateConfig } from '../../core/kernel/config.ts';
import { ConfigError } from '../../core/kernel/errors.ts';
import { RUNS, describeError, failOnUnhandledRejection } from './fuzz-support.ts';

failOnUnhandledRejection();

/** Runs through real files: each one is a write, a read and a YAML or JSON parse. */
const FILE_RUNS = 500;
const SEARCH_RUNS = 200;
/** Each is a YAML and a JSON stringify and parse. */
const ROUND_TRIP_RUNS = 2_000;
const FILE = '/etc/burrow/config.yml';

let root: string;
let savedHome: string | undefined;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'burrow-fuzz-config-'));
  // loadConfig falls back to $BURROW_HOME/config.yml; keep the developer's own out of it.
  savedHome = process.env.BURROW_HOME;
  process.env.BURROW_HOME = path.join(root, 'home');
  await mkdir(process.env.BURROW_HOME);
});
after(async () => {
  if (savedHome === undefined) delete process.env.BURROW_HOME;
  else process.env.BURROW_HOME = savedHome;
  await rm(root, { recursive: true, force: true });
});

const junk = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.string({ unit: 'binary', maxLength: 12 }));
/** A mapping with at most `most` of the given keys, each with its own kind of value (cheaper than fc.record of them all). */
function someOf(entries: Record<string, fc.Arbitrary<unknown>>, most: number): fc.Arbitrary<Record<string, unknown>> {
  const pairs = Object.entries(entries).map(([key, value]) => fc.tuple(fc.constant(key), value));
  return fc.uniqueArray(fc.oneof(...pairs), { maxLength: most, selector: ([key]) => key }).map((list) => Object.fromEntries(list));
}

/** Either a plausible value for a key or anything at all. */
const or = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary }, { weight: 1, arbitrary: junk });

const hostPort = fc.oneof(
  fc.tuple(fc.oneof(fc.ipV4(), fc.domain(), fc.ipV6().map((address) => `[${address}]`)), fc.integer({ min: 0, max: 99999 })).map(([host, port]) => `${host}:${port}`),
  fc.constantFrom('127.0.0.1:7844', '[::1]:0', '0.0.0.0:', ':80', 'host', 'a b:1', '127.0.0.1:123456'),
);
const duration = fc.oneof(fc.constantFrom('30s', '1m30s', '500ms', '1h', '-1s', '1x', '', '.s', '1.5', '+2s', '1µs', '1e3s'), fc.double(), fc.integer(), fc.string({ maxLength: 6 }));
const name = fc.oneof(fc.constantFrom('fra', 'lhr', 'eu', 'Fra', '-x', 'a'.repeat(40)), fc.string({ maxLength: 10 }));
const zone = fc.oneof(fc.domain(), fc.constantFrom('example.test', 'Example.Test', '.test', 'a..b', ''));
const plugin = fc.oneof(
  fc.constantFrom('dns', 'metrics', './local-plugin.ts', '', 'basic-auth'),
  fc.record({ use: or(fc.constantFrom('dns', 'jwt', '')), options: fc.jsonValue({ maxDepth: 2 }), name: or(name), enabled: or(fc.boolean()) }, { requiredKeys: [] }),
);
const rule = fc.record({ hostname: or(fc.domain()), path: or(fc.constantFrom('^/api/', '(')), service: or(fc.constantFrom('http://localhost:8080', 'http_status:404')), originRequest: or(fc.dictionary(fc.string({ maxLength: 8 }), junk, { maxKeys: 2 })) }, { requiredKeys: [] });

const edgeSection = someOf(
  {
    pop: or(name),
    listen: or(someOf({ http: or(hostPort), https: or(hostPort), tunnel: or(hostPort), api: or(hostPort), peer: or(hostPort), dns: or(hostPort), extra: junk }, 3)),
    advertise: or(hostPort),
    tls: or(fc.record({ cert: or(fc.string()), key: or(fc.string()) }, { requiredKeys: [] })),
    dataDir: or(fc.string()),
    zones: or(fc.array(or(zone), { maxLength: 3 })),
    quickTunnels: or(zone),
    region: or(name),
    gracePeriod: or(duration),
    heartbeatInterval: or(duration),
    heartbeatCount: or(fc.integer({ min: -5, max: 200 })),
    network: or(
      someOf(
        {
          registry: or(fc.constantFrom('redis://127.0.0.1:6379/0', 'rediss://x', 'http://x')),
          ca: or(fc.string()),
          advertise: or(hostPort),
          peers: or(fc.dictionary(name, or(hostPort), { maxKeys: 2 })),
          probeInterval: or(duration),
          maxHops: or(fc.integer({ min: -1, max: 100 })),
        },
        3,
      ),
    ),
    dns: or(fc.record({ discovery: or(zone), visitorAddresses: or(fc.array(or(fc.oneof(fc.ipV4(), fc.ipV6())), { maxLength: 2 })), ttl: or(duration) }, { requiredKeys: [] })),
    plugins: or(fc.array(plugin, { maxLength: 2 })),
    pops: junk,
  },
  4,
);

/** Connector configs (cloudflared's keys) and edge configs, with values right, wrong, misspelt or missing. */
const connectorDocument = someOf(
  {
    tunnel: or(fc.uuid()),
    'credentials-file': or(fc.string({ maxLength: 12 })),
    origincert: or(fc.string({ maxLength: 12 })),
    ingress: or(fc.array(or(rule), { maxLength: 3 })),
    originRequest: or(fc.dictionary(fc.string({ maxLength: 8 }), junk, { maxKeys: 2 })),
    'ha-connections': or(fc.integer({ min: -2, max: 40 })),
    'grace-period': or(duration),
    'heartbeat-interval': or(duration),
    'heartbeat-count': or(fc.integer({ min: -2, max: 200 })),
    retries: or(fc.integer({ min: -2, max: 10 })),
    metrics: or(hostPort),
    discovery: or(fc.record({ domain: or(zone), resolver: or(hostPort), region: or(name) }, { requiredKeys: [] })),
    loglevel: or(fc.constantFrom('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'verbose')),
    'no-autoupdate': junk,
    plugins: or(fc.array(plugin, { maxLength: 2 })),
    edge: or(fc.array(or(hostPort), { maxLength: 3 })),
    tunnell: junk,
    ['__proto__']: junk,
  },
  4,
);
const edgeDocument = fc.tuple(or(edgeSection), someOf({ plugins: or(fc.array(plugin, { maxLength: 2 })), ingres: junk, '': junk }, 1)).map(([edge, rest]) => ({ edge, ...rest }));
const document = fc.oneof(connectorDocument, edgeDocument);

/** Values YAML can produce beyond JSON (sets, maps, dates, binary) and JavaScript's odd corners. */
const oddValue = fc.anything({ maxDepth: 3, withMap: true, withSet: true, withDate: true, withTypedArray: true, withNullPrototype: true, withBigInt: true, withSparseArray: true, withBoxedValues: true });

const yamlSnippets = fc.constantFrom(
  '%YAML 1.1\n---\ntunnel: !!binary aGVsbG8=\nedge: !!set { a, b }\n',
  '%YAML 1.1\n---\nbase: &b { tunnel: x }\n<<: *b\n',
  'a: &a [*a]\n',
  'a: &x 1\nb: *y\n',
  `${Array.from({ length: 12 }, (_, i) => `l${i}: &l${i} [${Array(10).fill(i === 0 ? '1' : `*l${i - 1}`).join(', ')}]`).join('\n')}\n`,
  'ingress: !!map [a]\n',
  '? [a, b]\n: 1\n',
  '? { a: 1 }\n: 2\n',
  'tunnel: x\ntunnel: y\n',
  '---\ntunnel: a\n---\ntunnel: b\n',
  '!!str\n',
  '!custom-tag { a: 1 }\n',
  'tunnel: "\\x00\\uD800"\n',
  '\uFEFFtunnel: x\n',
  '\t- a\n',
  '- a\n- b\n',
  'edge: [127.0.0.1:7844, ]\n',
  '"unterminated\n',
  `${'['.repeat(300)}${']'.repeat(300)}`,
  `${'- '.repeat(300)}x\n`,
  '__proto__: { tunnel: x }\n',
  'constructor: { prototype: { polluted: true } }\n',
  'ha-connections: 1e400\n',
  'ha-connections: .nan\nretries: -.inf\n',
  'grace-period: 0x10\nretries: 0o7\n',
  '$import: missing.yml\n',
  '$import: [5]\n',
  '',
  '   \n\n',
  '~\n',
  'null\n',
  '{"tunnel": "x",}\n',
);

/** Edits to text: a character inserted, deleted or replaced somewhere. */
function mutateText(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom(':', ' ', '\n', '-', '[', ']', '{', '}', '"', "'", '&', '*', '!', '#', '|', '>', '%', '@', '`', ',', '?', '\t', '\\', '\u0000', 'é'));
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([text, edits]) => {
    let out = text;
    for (const [at, kind, char] of edits) {
      const i = out.length === 0 ? 0 : at % out.length;
      out = kind === 'insert' ? out.slice(0, i) + char + out.slice(i) : kind === 'delete' ? out.slice(0, i) + out.slice(i + 1) : out.slice(0, i) + char + out.slice(i + 1);
    }
    return out;
  });
}

const asYaml = document.map((doc) => toYaml(doc));
const asJson = document.map((doc) => JSON.stringify(doc, null, 2));
const configText = fc.oneof(
  { weight: 3, arbitrary: asYaml },
  { weight: 2, arbitrary: asJson },
  { weight: 3, arbitrary: mutateText(fc.oneof(asYaml, asJson)) },
  { weight: 1, arbitrary: yamlSnippets },
  { weight: 1, arbitrary: mutateText(yamlSnippets) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes).toString('latin1')) },
);

/** A ConfigError that names `file`, with a key path unless the file itself could not be parsed. */
function assertConfigError(error: unknown, file: string | ((named: string | undefined) => boolean)): asserts error is ConfigError {
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${describeError(error)}`);
  assert.equal(error.code, 'BURROW_ERR_CONFIG');
  if (typeof file === 'string') assert.equal(error.file, file, error.message);
  else assert.ok(file(error.file), `the error names ${String(error.file)}: ${error.message}`);
  assert.ok(error.message.startsWith(`${error.file}: `), error.message);
  const unparsed = /: the file (is not valid (YAML|JSON)|could not be loaded|nests lists and mappings)/.test(error.message);
  if (!unparsed) assert.ok(typeof error.keyPath === 'string' && error.keyPath.length > 0, `no key path: ${error.message}`);
}

const overJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

let counter = 0;
async function writeCase(name: string, content: string | Uint8Array): Promise<{ dir: string; file: string }> {
  const dir = path.join(root, `case-${++counter}`);
  await mkdir(dir);
  const file = path.join(dir, name);
  await writeFile(file, content);
  return { dir, file };
}

describe('config: validating documents', () => {
  it('any document shaped like a config validates or is refused with a ConfigError at a key path', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: document }, { weight: 1, arbitrary: oddValue }), (doc) => {
        try {
          validateConfig(doc, FILE);
        } catch (error) {
          assertConfigError(error, FILE);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('any YAML or JSON text parses to a valid config or a ConfigError naming the file', () => {
    fc.assert(
      fc.property(configText, (text) => {
        try {
          parseConfigText(text, FILE);
        } catch (error) {
          assertConfigError(error, FILE);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a document that validates, written as YAML or JSON, reads back as the same config', () => {
    fc.assert(
      fc.property(document, (doc) => {
        let config;
        try {
          config = validateConfig(doc, FILE);
        } catch {
          return;
        }
        // Through JSON for the comparison: JSON has no -0, and fast-check makes some objects without a prototype.
        assert.deepEqual(overJson(parseConfigText(toYaml(doc), FILE)), overJson(config));
        assert.deepEqual(overJson(parseConfigText(JSON.stringify(doc), FILE)), overJson(config));
      }),
      { numRuns: ROUND_TRIP_RUNS },
    );
  });
});

describe('config: loading files', () => {
  const names = fc.constantFrom('burrow.yaml', 'burrow.yml', 'burrow.json', '.burrowrc', 'config', 'burrow.config.json', 'burrow.toml');

  it('a file given by path loads as a config or a ConfigError naming that file', async () => {
    await fc.assert(
      fc.asyncProperty(names, fc.oneof(configText, fc.uint8Array({ maxLength: 64 })), async (name, content) => {
        const { file } = await writeCase(name, content);
        try {
          const loaded = await loadConfig(file);
          assert.equal(loaded.file, file);
        } catch (error) {
          assertConfigError(error, file);
        }
      }),
      { numRuns: FILE_RUNS },
    );
  });

  it('a file found by search loads as a config or a ConfigError naming the file that failed', async () => {
    const searchNames = fc.constantFrom('.burrowrc', '.burrowrc.json', '.burrowrc.yaml', 'burrow.config.json', 'burrow.config.yml', 'package.json');
    const content = fc.oneof(configText, document.map((doc) => JSON.stringify({ name: 'app', burrow: doc })));
    await fc.assert(
      fc.asyncProperty(searchNames, content, async (name, text) => {
        const { dir, file } = await writeCase(name, text);
        try {
          const loaded = await loadConfig(undefined, dir);
          if (loaded.file !== undefined) assert.equal(loaded.file, file);
        } catch (error) {
          // cosmiconfig's own $import checks name no file, so those errors name the folder the search began in.
          const importProblem = error instanceof Error && /\$import|Self-import|Circular import/.test(error.message);
          assertConfigError(error, (named) => named === file || (importProblem && named === dir));
        }
      }),
      { numRuns: SEARCH_RUNS },
    );
  });

  // Counterexamples: what each once reported.
  it('regression: a file given by path that holds only null is an empty config read from that file', async () => {
    const { file } = await writeCase('burrow.config.json', 'null\n');
    const loaded = await loadConfig(file);
    assert.equal(loaded.file, file);
    assert.equal(loaded.config['ha-connections'], 4);
  });

  it('regression: a broken JSON file found by search is named, not the folder the search began in', async () => {
    const { dir, file } = await writeCase('.burrowrc.json', '{"tunnel": ');
    await assert.rejects(loadConfig(undefined, dir), (error: unknown) => {
      assertConfigError(error, file);
      return true;
    });
  });

  it('regression: a broken package.json on the search path is named', async () => {
    const { dir, file } = await writeCase('package.json', '{"name": "app", ');
    await assert.rejects(loadConfig(undefined, dir), (error: unknown) => {
      assertConfigError(error, file);
      return true;
    });
  });

  it('regression: deeply nested YAML is refused before it is built, so reading it again cannot crash the process', async () => {
    // Built recursively, these overflowed the stack; the next YAML file read then died in V8's regexp compiler.
    for (let round = 0; round < 3; round++) {
      for (const text of [`${'['.repeat(5_000)}${']'.repeat(5_000)}`, `${'- '.repeat(3_000)}x\n`, `${'{a: '.repeat(2_000)}`, `a:\n${Array.from({ length: 100 }, (_, i) => `${' '.repeat(i + 1)}b:`).join('\n')}\n`]) {
        assert.throws(() => parseConfigText(text, FILE), (error: unknown) => error instanceof ConfigError && error.file === FILE && /more than 64 deep \(line \d+, column \d+\)/.test(error.message));
      }
      const { file } = await writeCase('deep.yaml', `${'['.repeat(5_000)}${']'.repeat(5_000)}`);
      await assert.rejects(loadConfig(file), (error: unknown) => error instanceof ConfigError && error.file === file);
    }
    assert.deepEqual(parseConfigText('tunnel: app\ningress:\n  - service: http_status:404\n', FILE).ingress, [{ service: 'http_status:404' }]);
    // JSON files go through JSON.parse, which does not recurse.
    const { file } = await writeCase('deep.json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    await assert.rejects(loadConfig(file), (error: unknown) => {
      assertConfigError(error, file);
      return true;
    });
  });

  it('YAML warnings (unknown tags, odd aliases) are not printed behind the logger\'s back', async () => {
    const warnings: string[] = [];
    const record = (warning: Error) => warnings.push(warning.message);
    process.on('warning', record);
    try {
      assert.equal(parseConfigText('tunnel: !custom-tag secret-value\n', FILE).tunnel, 'secret-value');
      assert.throws(() => parseConfigText('? [a, b]\n: 1\n', FILE), ConfigError);
      // process.emitWarning reports on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', record);
    }
    assert.deepEqual(warnings, []);
  });

  it('a folder given as the config file, a file with no loader, and an $import that is missing are ConfigErrors', async () => {
    const folder = path.join(root, 'a-folder');
    await mkdir(folder);
    await assert.rejects(loadConfig(folder), (error: unknown) => {
      assertConfigError(error, folder);
      return true;
    });
    const { file: toml } = await writeCase('burrow.toml', 'tunnel = "x"\n');
    await assert.rejects(loadConfig(toml), (error: unknown) => {
      assertConfigError(error, toml);
      return true;
    });
    for (const imports of ['missing.yml', '[5]', 'self.yml']) {
      const { file } = await writeCase('self.yml', `$import: ${imports}\ntunnel: x\n`);
      await assert.rejects(loadConfig(file), (error: unknown) => {
        assertConfigError(error, (named) => named === file || named === path.join(path.dirname(file), 'missing.yml'));
        return true;
      });
    }
  });

  it('durations a timer can hold: longer ones (or Infinity) are refused, not cut to 1 ms by setTimeout', () => {
    for (const value of [`${'9'.repeat(400)}s`, '999999999h', '597h', 1e12]) {
      assert.throws(() => validateConfig({ 'grace-period': value }, FILE), (error: Error) => error instanceof ConfigError && /grace-period: .* too long a duration/.test(error.message));
    }
    assert.equal(validateConfig({ 'grace-period': '596h' }, FILE)['grace-period'], 596 * 3600_000);
  });
});
