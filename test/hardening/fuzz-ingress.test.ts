// Fuzzing ingress rules: any list of rules either compiles or is refused with a ConfigError that names the file
// and the key path, and a compiled ingress answers every host and path with one of its rules, quickly even for
// path patterns that backtrack exponentially.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Ingress, parseService, type IngressRuleConfig, type OriginRequestConfig } from '../../core/connector/ingress.ts';
import { OriginCatalog } from '../../core/connector/origin-catalog.ts';
import { ConfigError } from '../../core/kernel/errors.ts';
import originHttp from '../../plugins/origin-http/index.ts';
import originUnix from '../../plugins/origin-unix/index.ts';
import originFile from '../../plugins/origin-file/index.ts';
import originStatus from '../../plugins/origin-status/index.ts';
import originHello from '../../plugins/origin-hello/index.ts';
import { RUNS, describeError, failOnUnhandledRejection } from './fuzz-support.ts';

failOnUnhandledRejection();

const FILE = 'burrow.yml';
const origins = OriginCatalog.of([originHttp, originUnix, originFile, originStatus, originHello].map((definition) => ({ definition, options: undefined })));
const optionKeys = [...origins.optionFields.keys()];

/** Patterns that take exponential (or high polynomial) time in a backtracking engine, each with a near-miss of length n. */
const CATASTROPHIC: ReadonlyArray<readonly [pattern: string, nearMiss: (n: number) => string]> = [
  ['^/(a+)+$', (n) => `/${'a'.repeat(n)}!`],
  ['^/(a|aa)*b$', (n) => `/${'a'.repeat(n)}!`],
  ['(x+x+)+y', (n) => `/${'x'.repeat(n)}`],
  ['^/(\\w+\\s?)*$', (n) => `/${'ab '.repeat(n)}!`],
  ['(.*a){12}', (n) => `/${'a'.repeat(10)}${'b'.repeat(n)}`],
  ['^/\\d*\\d*\\d*\\d*\\d*$', (n) => `/${'1'.repeat(n)}x`],
  ['^/([a-z]+)*[0-9]$', (n) => `/${'a'.repeat(n)}!`],
  ['(a*)*b', (n) => `/${'a'.repeat(n)}`],
  ['^(/|/.)*!$', (n) => '/.'.repeat(n)],
];
const patterns = CATASTROPHIC.map(([pattern]) => pattern);
const nearMiss = fc.tuple(fc.constantFrom(...CATASTROPHIC), fc.nat({ max: 3000 })).map(([[, miss], n]) => miss(n));

const regexToken = fc.constantFrom('a', 'b', '/', '.', '*', '+', '?', '*?', '(', ')', '(?:', '(?=', '(?!', '(?<=', '(?<n>', '\\k<n>', '|', '[', ']', '[^/]', '^', '$', '\\d', '\\w', '\\s', '\\b', '\\', '\\1', '{2}', '{1,3}', '{1000}', '{,', '\\u00e9', 'é', '🦡', '%');
const regexish = fc.array(regexToken, { maxLength: 12 }).map((tokens) => tokens.join(''));

const hostname = fc.oneof(
  fc.constantFrom(undefined, null, '', '*', '*.', '.', '*.*.example.test', 'a*.example.test', 'bücher.example.test', '*.bücher.test', 'xn--bcher-kva.test', 'APP.Example.TEST.', '::1', '[::1]', '[::1]:80', 'app.test:8080', 'http://app.test', 'app.test/path', '\u0000', ' ', 'a..b', '-.test', 'ß.test', '\u200d.test'),
  fc.domain(),
  fc.domain().map((domain) => `*.${domain}`),
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV6().map((address) => `[${address}]`),
  fc.webUrl(),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const path = fc.oneof(
  fc.constantFrom(undefined, null, '', '^/api/', '\\.png$', 'report', '^/$', '.*', '(', '[', '*', '\\', '(?<n>a)\\k<n>', '(a)\\1', '(?=a)', '(?!admin)', '(?<=x)y', 'a{1000}', 'a{2,}', '(?<n>x)(?<n>y)'),
  fc.constantFrom(...patterns),
  regexish,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const service = fc.oneof(
  fc.constantFrom(
    'http://localhost:8080',
    'https://127.0.0.1:8443',
    'ws://[::1]:9000',
    'wss://origin.test',
    'http://user:pa%ss@host:1',
    'http://host:1/path',
    'http://host:99999',
    'http://',
    'https://:80',
    'unix:/tmp/origin.sock',
    'unix+tls:/tmp/origin.sock',
    'unix:',
    'http_status:404',
    'http_status:100',
    'http_status:600',
    'http_status:',
    'http_status:-1',
    'hello_world',
    'hello-world',
    'file://./public',
    'file:///srv/www?spa',
    'file:///srv/www?spa=maybe',
    'file:///srv/www?x=1',
    'file://host/dir',
    'file://%zz',
    'localhost:8080',
    '127.0.0.1',
    '[::1]:80',
    'gopher://x',
    'echo:label',
    '',
    '   ',
    'http://\u0000',
  ),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.tuple(fc.constantFrom('http', 'https', 'ws', 'wss', 'unix', 'unix+tls', 'http_status', 'hello_world', 'file', 'tcp', 'ssh', 'x-y.z'), fc.string({ unit: 'binary', maxLength: 20 })).map(([scheme, rest]) => `${scheme}:${rest}`),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const optionValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('30s', '1m30s', '500ms', '-1s', '9999999999999h', '1e400s', 'abc', '', 0, -1, 1.5, 1e308, true));
const originRequest: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.dictionary(fc.constantFrom(...optionKeys), optionValue, { maxKeys: 4 }),
  fc.dictionary(fc.oneof(fc.constantFrom(...optionKeys, '__proto__', 'constructor', 'toString'), fc.string({ maxLength: 12 })), optionValue, { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Adds an own `__proto__` key, as YAML and JSON.parse make from a `__proto__:` line. */
function withOwnProto(value: unknown, proto: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.defineProperty({ ...value }, '__proto__', { value: proto, enumerable: true, writable: true, configurable: true });
}

const rule: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ hostname, path, service, originRequest, middleware: fc.jsonValue({ maxDepth: 1 }), hostnme: fc.string({ maxLength: 5 }) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.tuple(fc.record({ service, originRequest }, { requiredKeys: ['service'] }), fc.jsonValue({ maxDepth: 2 })).map(([value, proto]) => withOwnProto(value, proto)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const catchAll = fc.record({ service, originRequest }, { requiredKeys: ['service'] });

const rules: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, {}, 'ingress', 0, []) },
  { weight: 1, arbitrary: fc.array(rule, { maxLength: 5 }) },
  { weight: 6, arbitrary: fc.tuple(fc.array(rule, { maxLength: 5 }), catchAll).map(([list, last]) => [...list, last]) },
);

const requestHost = fc.oneof(fc.domain(), fc.ipV6().map((address) => `[${address}]:443`), fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('', ' ', ':', '[', '[]', '[::1', 'APP.EXAMPLE.TEST.:8443', '*.example.test'));
const requestPath = fc.oneof(
  fc.webPath(),
  fc.webPath().map((p) => `${p}?q=1#frag`),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '/', '%', '/%zz', '/%E0%A4%A', '/%00', '?', '#', '/a?b#c', '//'),
  nearMiss,
);

/** A compiled ingress or a ConfigError naming the file and a key path; anything else fails the property. */
function compile(input: unknown, topLevel: unknown, withOrigins: boolean): Ingress | undefined {
  try {
    return Ingress.parse(input as IngressRuleConfig[], topLevel as OriginRequestConfig, { file: FILE, origins: withOrigins ? origins : undefined });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${describeError(error)}`);
    assert.equal(error.file, FILE);
    assert.ok(typeof error.keyPath === 'string' && /^(ingress|originRequest)\b/.test(error.keyPath), `no key path in ${error.message}`);
    assert.ok(error.message.startsWith(`${FILE}: ${error.keyPath}: `), error.message);
    return undefined;
  }
}

function checkMatches(ingress: Ingress, requests: ReadonlyArray<readonly [string, string]>): void {
  const last = ingress.rules[ingress.rules.length - 1]!;
  assert.ok(last.isCatchAll, 'the last rule is a catch-all');
  for (const [host, requestPathname] of requests) {
    let matched;
    try {
      matched = ingress.match(host, requestPathname);
    } catch (error) {
      assert.fail(`match(${JSON.stringify(host)}, ${JSON.stringify(requestPathname.slice(0, 80))}) threw ${describeError(error)}`);
    }
    assert.ok(ingress.rules.includes(matched));
  }
}

describe('ingress rules: compiling and matching', () => {
  it('any rule list compiles or is refused with a ConfigError at a key path; a compiled one matches every request', () => {
    fc.assert(
      fc.property(rules, originRequest, fc.boolean(), fc.array(fc.tuple(requestHost, requestPath), { maxLength: 4 }), (input, topLevel, withOrigins, requests) => {
        const ingress = compile(input, topLevel, withOrigins);
        if (ingress) checkMatches(ingress, requests);
      }),
      { numRuns: RUNS },
    );
  });

  it('a request for a rule\'s own hostname, in any case and with a port, is answered by a rule at or before it', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ hostname: fc.domain(), service: fc.constant('http_status:200') }), { minLength: 1, maxLength: 5 }), fc.nat(), fc.nat({ max: 65535 }), (list, pick, port) => {
        const ingress = compile([...list, { service: 'http_status:404' }], undefined, true);
        assert.ok(ingress, 'plain hostnames compile');
        const index = pick % list.length;
        const wanted = ingress.rules[index]!;
        const host = `${wanted.hostname!.toUpperCase()}:${port}`;
        assert.ok(ingress.match(host, '/').index <= index);
      }),
      { numRuns: RUNS },
    );
  });

  it('path patterns match as the backtracking engine would, for every pattern that compiles', () => {
    const shortPath = fc.oneof(fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', '1', ' ', 'é', '!', 'x', '?', '%'), maxLength: 10 }), fc.webPath());
    fc.assert(
      fc.property(fc.oneof(regexish, fc.constantFrom(...patterns)), fc.array(shortPath, { minLength: 1, maxLength: 4 }), (pattern, paths) => {
        const ingress = compile([{ path: pattern, service: 'http_status:200' }, { service: 'http_status:404' }], undefined, false);
        if (!ingress || ingress.rules.length < 2) return;
        const backtracking = new RegExp(pattern);
        for (const requested of paths) {
          const pathOnly = requested.split(/[?#]/)[0]!;
          let decoded: string;
          try {
            decoded = decodeURIComponent(pathOnly) || '/';
          } catch {
            decoded = pathOnly || '/';
          }
          assert.equal(ingress.match('any.test', requested).index === 0, backtracking.test(decoded), `${pattern} on ${JSON.stringify(requested)}`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('parseService splits any value into a scheme and the rest, or refuses it with a ConfigError', () => {
    fc.assert(
      fc.property(service, fc.boolean(), (raw, withOrigins) => {
        try {
          const spec = parseService(raw, 'ingress[0].service', FILE, withOrigins ? origins : undefined);
          assert.equal(spec.scheme, spec.scheme.toLowerCase());
          assert.ok(spec.scheme.length > 0);
        } catch (error) {
          assert.ok(error instanceof ConfigError, describeError(error));
          assert.equal(error.keyPath, 'ingress[0].service');
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('ingress rules: regressions', () => {
  for (const [pattern, miss] of CATASTROPHIC) {
    it(`the path ${JSON.stringify(pattern)} is matched in linear time`, () => {
      const ingress = Ingress.parse([{ path: pattern, service: 'http_status:200' }, { service: 'http_status:404' }], undefined, { file: FILE, origins });
      assert.ok(ingress.rules[0]!.path!.flags.includes('l'), 'compiled for the linear engine');
      // With backtracking this runs for longer than the age of the universe.
      assert.equal(ingress.match('app.test', miss(5000)).index, 1);
    });
  }

  for (const pattern of ['(a)\\1', '(?<n>a)\\k<n>', '(?=a)', '(?!admin)', '^/(?!admin).*', '(?<=x)y', '(?<!x)y', 'a{1000}']) {
    it(`the path ${JSON.stringify(pattern)}, which cannot be matched in linear time, is a ConfigError`, () => {
      assert.throws(
        () => Ingress.parse([{ path: pattern, service: 'http_status:200' }, { service: 'http_status:404' }], undefined, { file: FILE }),
        (error: unknown) => error instanceof ConfigError && error.keyPath === 'ingress[0].path' && /linear/.test(error.message),
      );
    });
  }

  it('an own __proto__ key in originRequest stays a key: it does not become the prototype of the merged options', () => {
    const layer = JSON.parse('{"__proto__":{"connectTimeout":"1s"},"tlsTimeout":"2s"}') as OriginRequestConfig;
    const ingress = Ingress.parse([{ service: 'http://127.0.0.1:1', originRequest: layer }], undefined, { file: FILE });
    const options = ingress.rules[0]!.originRequest;
    assert.equal(Object.getPrototypeOf(options), Object.prototype);
    assert.equal((options as { connectTimeout?: unknown }).connectTimeout, undefined);
    assert.deepEqual(Object.keys(options).sort(), ['__proto__', 'tlsTimeout']);
  });
});
