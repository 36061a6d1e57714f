// Tests for ingress rules: matching, validation errors, service parsing and originRequest resolution (with the built-in origins).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ingress, parseService, type IngressRuleConfig, type OriginRequestConfig, type ServiceSpec } from '../../../core/connector/ingress.ts';
import { OriginCatalog } from '../../../core/connector/origin-catalog.ts';
import { ConfigError, formatKeyPath } from '../../../core/kernel/errors.ts';
import originHttp from '../../../plugins/origin-http/index.ts';
import originUnix from '../../../plugins/origin-unix/index.ts';
import originFile from '../../../plugins/origin-file/index.ts';
import originStatus from '../../../plugins/origin-status/index.ts';
import originHello from '../../../plugins/origin-hello/index.ts';

const origins = OriginCatalog.of([originHttp, originUnix, originFile, originStatus, originHello].map((definition) => ({ definition, options: undefined })));

function assertConfigError(fn: () => unknown, expected: { keyPath: string; includes: string[] }): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'BURROW_ERR_CONFIG');
    assert.equal(error.keyPath, expected.keyPath);
    assert.ok(error.message.startsWith(`burrow.yml: ${expected.keyPath}: `), error.message);
    assert.ok(error.message.includes('Fix: '), error.message);
    for (const text of expected.includes) assert.ok(error.message.includes(text), `"${error.message}" lacks "${text}"`);
    return true;
  });
}

describe('Ingress.match', () => {
  const ingress = Ingress.parse(
    [
      { hostname: 'app.example.test', path: '^/api/', service: 'http://127.0.0.1:1001' },
      { hostname: 'app.example.test', service: 'http://127.0.0.1:1002' },
      { hostname: '*.deep.example.test', service: 'http://127.0.0.1:1003' },
      { hostname: '*.example.test', service: 'http://127.0.0.1:1004' },
      { hostname: '::1', service: 'http://127.0.0.1:1005' },
      { path: '\\.png$', service: 'http://127.0.0.1:1006' },
      { hostname: '*', path: 'report', service: 'http://127.0.0.1:1007' },
      { service: 'http_status:404' },
    ],
    undefined,
  );

  const cases: Array<[host: string, path: string, rule: number, why: string]> = [
    ['app.example.test', '/api/users', 0, 'hostname and path'],
    ['app.example.test', '/', 1, 'exact hostname'],
    ['app.example.test', '/v1/api/', 1, 'the path regex did not match, so a later rule wins'],
    ['APP.Example.TEST', '/api/x', 0, 'hostname matching is case-insensitive'],
    ['app.example.test:8443', '/api/x', 0, 'the port in Host is ignored'],
    ['app.example.test.', '/', 1, 'a trailing dot in Host is ignored'],
    ['app.example.test', '/api/x?debug=1', 0, 'the query string is not part of the path'],
    ['app.example.test', '/%61pi/x', 0, 'the path is percent-decoded, like Go\'s URL.Path'],
    ['app.example.test', '/API/x', 1, 'path regexes are case-sensitive'],
    ['a.deep.example.test', '/', 2, 'the more specific wildcard comes first'],
    ['deep.example.test', '/', 3, 'a wildcard does not match its apex, the next one does'],
    ['other.example.test', '/', 3, 'wildcard'],
    ['a.b.example.test', '/', 3, 'a wildcard matches deeper subdomains'],
    ['example.test', '/', 7, 'a wildcard does not match the apex'],
    ['badexample.test', '/', 7, 'a wildcard matches whole labels only'],
    ['[::1]:8080', '/', 4, 'IPv6 brackets and port are ignored'],
    ['::1', '/', 4, 'bare IPv6'],
    ['elsewhere.test', '/img/logo.png', 5, 'a path-only rule matches any host'],
    ['elsewhere.test', '/img/logo.png?v=2', 5, 'the query does not stop a $ anchor'],
    ['elsewhere.test', '/monthly/report/2024', 6, '"*" with a path, unanchored like Go regexp'],
    ['elsewhere.test', '/', 7, 'catch-all'],
    ['', '', 7, 'no Host at all still reaches the catch-all'],
  ];

  for (const [host, path, rule, why] of cases) {
    it(`${host || '(no host)'}${path} -> rule ${rule} (${why})`, () => {
      assert.equal(ingress.match(host, path).index, rule);
    });
  }

  it('lists hostnames and wildcard patterns for display, without duplicates or "*"', () => {
    assert.deepEqual(ingress.hostnames(), ['app.example.test', '*.deep.example.test', '*.example.test', '::1']);
  });
});

describe('IngressRule.describe', () => {
  const cases: Array<[rule: IngressRuleConfig, expected: string]> = [
    [{ hostname: 'App.Example.test', path: '^/api', service: 'http://127.0.0.1:3000' }, 'hostname: app.example.test\npath: ^/api\nservice: http://127.0.0.1:3000'],
    [{ hostname: '*.example.test', service: 'hello_world' }, 'hostname: *.example.test\nservice: hello_world'],
    [{ path: '/static/', service: 'file:///srv/www' }, 'path: /static/\nservice: file:///srv/www'],
  ];
  for (const [rule, expected] of cases) {
    it(expected.replaceAll('\n', ', '), () => {
      const ingress = Ingress.parse([rule, { service: 'http_status:404' }], undefined);
      assert.equal(ingress.rules[0]!.describe(), expected);
    });
  }

  it('describes the catch-all by its service only', () => {
    assert.equal(Ingress.parse([{ service: 'http_status:404' }], undefined).rules[0]!.describe(), 'service: http_status:404');
  });
});

describe('Ingress.parse', () => {
  it('answers everything with 503 when there is no ingress, as cloudflared does', () => {
    const ingress = Ingress.parse(undefined, { connectTimeout: '5s' }, { origins });
    assert.equal(ingress.rules.length, 1);
    const rule = ingress.match('any.test', '/x');
    assert.deepEqual(rule.service, { scheme: 'http_status', rest: '503', raw: 'http_status:503' });
    assert.equal(origins.parse(rule.service, ['ingress', 0, 'service']), 503);
    // The top-level layer is still checked, though the status origin reads none of it.
    assert.deepEqual(rule.originRequest, {});
    assert.deepEqual(ingress.hostnames(), []);
  });

  it('without the loaded origins, checks only what every rule shares and keeps originRequest as written', () => {
    const ingress = Ingress.parse([{ service: 'echo:x', originRequest: { anything: 1 } }], { connectTimeout: '5s' });
    assert.deepEqual(ingress.rules[0]!.service, { scheme: 'echo', rest: 'x', raw: 'echo:x' });
    assert.deepEqual({ ...ingress.rules[0]!.originRequest }, { connectTimeout: '5s', anything: 1 });
  });

  it('treats an empty or "*" hostname and an empty path as absent, as cloudflared does', () => {
    for (const rule of [{ hostname: '', service: 'hello_world' }, { hostname: '*', path: '', service: 'hello_world' }]) {
      const ingress = Ingress.parse([rule], undefined);
      assert.equal(ingress.rules[0]!.hostname, undefined);
      assert.equal(ingress.rules[0]!.path, undefined);
    }
  });

  it('normalises hostnames to lower-case ASCII', () => {
    const ingress = Ingress.parse([{ hostname: 'Bücher.Example.test.', service: 'hello_world' }, { service: 'http_status:404' }], undefined);
    assert.equal(ingress.rules[0]!.hostname, 'xn--bcher-kva.example.test');
    assert.equal(ingress.match('xn--bcher-kva.example.test', '/').index, 0);
  });

  it('keeps plugin-specific keys of a rule in its config', () => {
    const ingress = Ingress.parse([{ service: 'http://127.0.0.1:1', middleware: ['auth'] }], undefined);
    assert.deepEqual(ingress.rules[0]!.config.middleware, ['auth']);
  });

  const errors: Array<{
    name: string;
    rules: unknown;
    topLevel?: unknown;
    keyPath: string;
    includes: string[];
  }> = [
    { name: 'empty ingress list', rules: [], keyPath: 'ingress', includes: ['has no rules', 'add at least a catch-all rule `- service: http_status:404`'] },
    { name: 'ingress that is not a list', rules: { service: 'x' }, keyPath: 'ingress', includes: ['must be a list of rules'] },
    { name: 'rule that is not a mapping', rules: ['http://x'], keyPath: 'ingress[0]', includes: ['must be a rule mapping'] },
    {
      name: 'last rule with a hostname',
      rules: [{ hostname: 'a.test', service: 'hello_world' }],
      keyPath: 'ingress[0].hostname',
      includes: ['The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)', '- service: http_status:404'],
    },
    {
      name: 'last rule with a path',
      rules: [{ hostname: 'a.test', service: 'hello_world' }, { path: '^/', service: 'hello_world' }],
      keyPath: 'ingress[1].path',
      includes: ['The last ingress rule must match all URLs', 'catch-all'],
    },
    {
      name: 'catch-all before the last rule',
      rules: [{ service: 'hello_world' }, { hostname: 'a.test', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0]',
      includes: ['matches every request', 'can never match', 'give it a hostname or path, or move it to the end'],
    },
    {
      name: 'catch-all made by a misspelt hostname key',
      rules: [{ hostnme: 'a.test', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0]',
      includes: ['did you mean "hostname:" instead of "hostnme:"?'],
    },
    {
      name: 'wildcard in the middle',
      rules: [{ hostname: 'a.*.test', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].hostname',
      includes: ['wildcard that is not the leading "*."', '"*.example.test"'],
    },
    {
      name: 'wildcard without a dot',
      rules: [{ hostname: '*example.test', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].hostname',
      includes: ['wildcard', '"*.example.test"'],
    },
    {
      name: 'two wildcards',
      rules: [{ hostname: '*.*.test', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].hostname',
      includes: ['wildcard', '"*.example.test"'],
    },
    {
      name: 'hostname with a port',
      rules: [{ hostname: 'app.example.test:8080', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].hostname',
      includes: ['includes a port', 'remove the port', 'app.example.test'],
    },
    {
      name: 'hostname with a scheme',
      rules: [{ hostname: 'a.test', service: 'hello_world' }, { hostname: 'https://app.example.test', service: 'hello_world' }],
      keyPath: 'ingress[1].hostname',
      includes: ['includes a scheme', 'use just the hostname, e.g. app.example.test'],
    },
    {
      name: 'hostname with a path',
      rules: [{ hostname: 'app.example.test/api', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].hostname',
      includes: ['includes a path', "use hostname: app.example.test and put the path in the rule's path: key"],
    },
    {
      name: 'hostname with invalid characters',
      rules: [{ hostname: 'app example.test', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].hostname',
      includes: ['is not a valid hostname', 'app.example.test'],
    },
    {
      name: 'hostname that is not a string',
      rules: [{ hostname: 42, service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].hostname',
      includes: ['42 is not a hostname'],
    },
    {
      name: 'invalid path regex',
      rules: [{ hostname: 'a.test', path: '^/api/(v1', service: 'hello_world' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].path',
      includes: ['"^/api/(v1" is not a valid regular expression', 'escape special characters'],
    },
    {
      name: 'missing service',
      rules: [{ hostname: 'a.test' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].service',
      includes: ['is missing', 'use http://host:port'],
    },
    {
      name: 'invalid service',
      rules: [{ hostname: 'a.test', service: 'http://a.test/app' }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].service',
      includes: ["don't support proxying to a different path on the origin service", 'use http://a.test as the service'],
    },
    {
      name: 'unknown per-rule originRequest key',
      rules: [{ hostname: 'a.test', service: 'hello_world', originRequest: { conectTimeout: '1s' } }, { service: 'http_status:404' }],
      keyPath: 'ingress[0].originRequest.conectTimeout',
      includes: ['unknown option "conectTimeout"', 'did you mean "connectTimeout"?'],
    },
    {
      name: 'a scheme no plugin serves',
      rules: [{ hostname: 'a.test', service: 'hello_world' }, { service: 'echo:label' }],
      keyPath: 'ingress[1].service',
      includes: ['no plugin serves "echo:label" (scheme "echo")', 'http, https, ws, wss, unix, unix+tls, file, http_status, hello_world', 'add the plugin that serves "echo"'],
    },
    {
      name: 'unknown originRequest key with no close match',
      rules: [{ service: 'hello_world', originRequest: { zzz: 1 } }],
      keyPath: 'ingress[0].originRequest.zzz',
      includes: ['unknown option "zzz"', 'use one of connectTimeout, tlsTimeout'],
    },
    {
      name: 'invalid per-rule originRequest duration',
      rules: [{ hostname: 'a.test', service: 'hello_world' }, { service: 'hello_world', originRequest: { connectTimeout: '10 secs' } }],
      keyPath: 'ingress[1].originRequest.connectTimeout',
      includes: ['"10 secs" is not a valid duration (unknown unit " secs")', 'use a Go-style duration such as "30s"'],
    },
    {
      name: 'invalid originRequest boolean',
      rules: [{ service: 'hello_world', originRequest: { noTLSVerify: 'yes' } }],
      keyPath: 'ingress[0].originRequest.noTLSVerify',
      includes: ['"yes" is not a valid value', 'use true or false'],
    },
    {
      name: 'invalid originRequest count',
      rules: [{ service: 'hello_world', originRequest: { keepAliveConnections: -1 } }],
      keyPath: 'ingress[0].originRequest.keepAliveConnections',
      includes: ['-1 is not a valid value', 'use a whole number'],
    },
    {
      name: 'invalid originRequest proxyType',
      rules: [{ service: 'hello_world', originRequest: { proxyType: 'http' } }],
      keyPath: 'ingress[0].originRequest.proxyType',
      includes: ['"http" is not a valid value', 'use "socks" or leave it empty'],
    },
    {
      name: 'originRequest that is not a mapping',
      rules: [{ service: 'hello_world', originRequest: 'fast' }],
      keyPath: 'ingress[0].originRequest',
      includes: ['must be a mapping of options', 'connectTimeout: 10s'],
    },
    {
      name: 'invalid top-level originRequest',
      rules: [{ service: 'hello_world' }],
      topLevel: { tlsTimeout: true },
      keyPath: 'originRequest.tlsTimeout',
      includes: ['true is not a valid duration', 'use a Go-style duration'],
    },
    {
      name: 'invalid top-level originRequest even without ingress',
      rules: undefined,
      topLevel: { caPool: '' },
      keyPath: 'originRequest.caPool',
      includes: ['"" is not a valid value', 'path to a PEM file'],
    },
  ];

  for (const { name, rules, topLevel, keyPath, includes } of errors) {
    it(`rejects ${name}`, () => {
      assertConfigError(
        () => Ingress.parse(rules as IngressRuleConfig[], topLevel as OriginRequestConfig, { file: 'burrow.yml', origins }),
        { keyPath, includes },
      );
    });
  }

  it('reports the earliest problem in file order', () => {
    const rules = [{ service: 'hello_world' }, { hostname: 'a:1', service: 'hello_world' }, { service: 'http_status:404' }];
    assertConfigError(() => Ingress.parse(rules, undefined, { file: 'burrow.yml' }), { keyPath: 'ingress[0]', includes: ['matches every request'] });
  });
});

describe('parseService', () => {
  const valid: Array<[raw: string, expected: Omit<ServiceSpec, 'raw' | 'url'> & { href?: string }, target?: unknown]> = [
    ['http://127.0.0.1:3000', { scheme: 'http', rest: '//127.0.0.1:3000', href: 'http://127.0.0.1:3000/' }, new URL('http://127.0.0.1:3000/')],
    ['https://origin.internal/', { scheme: 'https', rest: '//origin.internal/', href: 'https://origin.internal/' }, new URL('https://origin.internal/')],
    ['HTTP://Origin:80', { scheme: 'http', rest: '//Origin:80', href: 'http://origin/' }, new URL('http://origin/')],
    ['ws://127.0.0.1:9000', { scheme: 'ws', rest: '//127.0.0.1:9000' }, new URL('http://127.0.0.1:9000/')],
    ['wss://chat.internal', { scheme: 'wss', rest: '//chat.internal' }, new URL('https://chat.internal/')],
    ['tcp://localhost:22', { scheme: 'tcp', rest: '//localhost:22', href: 'tcp://localhost:22' }],
    ['unix:/run/app.sock', { scheme: 'unix', rest: '/run/app.sock' }, { secure: false, socketPath: '/run/app.sock' }],
    ['unix+tls:/run/app.sock', { scheme: 'unix+tls', rest: '/run/app.sock' }, { secure: true, socketPath: '/run/app.sock' }],
    ['file:///srv/www', { scheme: 'file', rest: '///srv/www', href: 'file:///srv/www' }, { dir: '/srv/www', spa: false }],
    ['file:///srv/my%20site', { scheme: 'file', rest: '///srv/my%20site' }, { dir: '/srv/my site', spa: false }],
    ['file:///srv/app?spa', { scheme: 'file', rest: '///srv/app?spa' }, { dir: '/srv/app', spa: true }],
    ['file://./site', { scheme: 'file', rest: '//./site' }, { dir: './site', spa: false }],
    ['file://../shared/my%20site?spa', { scheme: 'file', rest: '//../shared/my%20site?spa' }, { dir: '../shared/my site', spa: true }],
    ['file://.', { scheme: 'file', rest: '//.' }, { dir: '.', spa: false }],
    ['http_status:404', { scheme: 'http_status', rest: '404' }, 404],
    ['http_status:503', { scheme: 'http_status', rest: '503' }, 503],
    ['hello_world', { scheme: 'hello_world', rest: '' }],
    ['bastion', { scheme: 'bastion', rest: '' }],
    ['socks-proxy', { scheme: 'socks-proxy', rest: '' }],
    ['s3:bucket/prefix', { scheme: 's3', rest: 'bucket/prefix' }],
  ];

  for (const [raw, expected, target] of valid) {
    it(`parses ${raw}${target === undefined ? '' : ', and its plugin reads it'}`, () => {
      const spec = parseService(raw, 'ingress[0].service', undefined, origins);
      const { href, ...fields } = expected;
      assert.deepEqual({ ...spec, url: undefined }, { ...fields, raw, url: undefined });
      if (href !== undefined) assert.equal(spec.url?.href, href);
      if (target !== undefined) assert.deepEqual(origins.parse(spec, ['ingress', 0, 'service']), target);
    });
  }

  const invalid: Array<[raw: string, includes: string[]]> = [
    ['', ['is not a valid service', 'use http://host:port, https://..., unix:/path, file:///dir, http_status:404 or hello_world']],
    ['http://127.0.0.1:3000/app', ['has a path', "ingress rules don't support proxying to a different path", 'use http://127.0.0.1:3000 as the service']],
    ['https://origin/?x=1', ['has a path', 'use https://origin as the service']],
    ['http://', ['is not a valid service URL', 'use http://host:port']],
    ['tcp://', ['no plugin serves "tcp://"', 'use a scheme the loaded plugins serve (http, https']],
    ['http_status:99', ['not a valid HTTP status', 'from 100 to 599']],
    ['http_status:600', ['not a valid HTTP status', 'e.g. http_status:404']],
    ['http_status:abc', ['not a valid HTTP status']],
    ['http_status:101', ['is an informational (1xx) status, which cannot end a response', 'use a final status from 200 to 599']],
    ['file://srv/www', ['not a valid file:// URL', 'use an absolute directory, e.g. file:///srv/www']],
    ['file:www', ['not a valid file:// URL', 'use an absolute directory']],
    ['file://.site', ['not a valid file:// URL', 'or one relative to the config file, e.g. file://./site']],
    ['file:///srv/app?spa=yes', ['spa=yes is not true or false', 'write ?spa or ?spa=true']],
    ['unix:', ['names no socket path', 'use unix:/path/to/socket']],
    ['localhost:8080', ['it has no scheme', 'add one, e.g. http://localhost:8080']],
    ['127.0.0.1', ['it has no scheme', 'http://127.0.0.1']],
    ['127.0.0.1:8080', ['it has no scheme', 'http://127.0.0.1:8080']],
    ['foo bar', ['"foo bar" is not a valid service', 'use http://host:port']],
  ];

  for (const [raw, includes] of invalid) {
    it(`rejects ${JSON.stringify(raw)}`, () => {
      assertConfigError(() => origins.parse(parseService(raw, 'ingress[2].service', 'burrow.yml', origins), ['ingress', 2, 'service'], 'burrow.yml'), {
        keyPath: 'ingress[2].service',
        includes,
      });
    });
  }
});

describe('originRequest', () => {
  const defaults = {
    connectTimeout: 30_000,
    tlsTimeout: 10_000,
    tcpKeepAlive: 30_000,
    noHappyEyeballs: false,
    keepAliveConnections: 100,
    keepAliveTimeout: 90_000,
    responseTimeout: 100_000,
    noTLSVerify: false,
    disableChunkedEncoding: false,
    http2Origin: false,
    bastionMode: false,
  };

  /** The options in effect for an http:// rule with these layers: top-level first, then the rule's own. */
  const resolve = (topLevel?: OriginRequestConfig, own?: OriginRequestConfig) =>
    Ingress.parse([{ service: 'http://127.0.0.1:1', originRequest: own }], topLevel, { origins }).rules[0]!.originRequest;

  const cases: Array<[name: string, layers: [OriginRequestConfig?, OriginRequestConfig?], expected: object]> = [
    ['defaults with no layers', [], defaults],
    ['defaults with empty layers', [undefined, {}], defaults],
    ['a top-level value', [{ connectTimeout: '5s' }], { ...defaults, connectTimeout: 5_000 }],
    ['a per-rule value over the top-level one', [{ connectTimeout: '5s', noTLSVerify: true }, { connectTimeout: 2 }], { ...defaults, connectTimeout: 2_000, noTLSVerify: true }],
    ['an undefined per-rule value keeps the top-level one', [{ tlsTimeout: '1s' }, { tlsTimeout: undefined }], { ...defaults, tlsTimeout: 1_000 }],
    [
      'options without defaults only when set',
      [{ httpHostHeader: 'app.internal', originServerName: 'app.internal', caPool: '/etc/ca.pem', proxyType: 'socks', proxyPort: 1080, proxyAddress: '127.0.0.1' }],
      { ...defaults, httpHostHeader: 'app.internal', originServerName: 'app.internal', caPool: '/etc/ca.pem', proxyType: 'socks', proxyPort: 1080, proxyAddress: '127.0.0.1' },
    ],
    ['cloudflared access blocks are accepted', [{ access: { required: true, teamName: 'team' } }], { ...defaults, access: { required: true, teamName: 'team' } }],
  ];

  for (const [name, layers, expected] of cases) {
    it(`resolves ${name}`, () => {
      assert.deepEqual({ ...resolve(...layers) }, expected);
    });
  }

  it('applies per-rule options over top-level ones in parsed ingress rules', () => {
    const ingress = Ingress.parse(
      [{ hostname: 'a.test', service: 'http://127.0.0.1:1', originRequest: { keepAliveTimeout: '10s', http2Origin: true } }, { service: 'unix:/run/app.sock' }],
      { keepAliveTimeout: '2m', noTLSVerify: true },
      { origins },
    );
    const [own, fallback] = ingress.rules;
    assert.equal(own!.originRequest.keepAliveTimeout, 10_000);
    assert.equal(own!.originRequest.http2Origin, true);
    assert.equal(own!.originRequest.noTLSVerify, true);
    assert.equal(fallback!.originRequest.keepAliveTimeout, 120_000);
    assert.equal(fallback!.originRequest.http2Origin, false);
  });

  it('freezes resolved options, since rules share them with every request', () => {
    assert.ok(Object.isFrozen(resolve({})));
  });

  it('gives a rule only the options its origin reads', () => {
    const ingress = Ingress.parse([{ hostname: 'a.test', service: 'hello_world', originRequest: { noTLSVerify: true } }, { service: 'http_status:404' }], { connectTimeout: '5s' }, { origins });
    assert.deepEqual(ingress.rules.map((rule) => ({ ...rule.originRequest })), [{}, {}]);
  });
});

describe('config errors', () => {
  const keyPaths: Array<[path: Array<string | number>, expected: string]> = [
    [['ingress', 2, 'service'], 'ingress[2].service'],
    [['originRequest', 'connectTimeout'], 'originRequest.connectTimeout'],
    [['ingress', 0], 'ingress[0]'],
    [['plugins', 'rate-limit', 'burst'], 'plugins.rate-limit.burst'],
    [['headers', 'X.Forwarded'], 'headers["X.Forwarded"]'],
    [[], ''],
  ];
  for (const [path, expected] of keyPaths) {
    it(`formats ${JSON.stringify(path)} as ${expected || '(empty)'}`, () => assert.equal(formatKeyPath(path), expected));
  }

  const messages: Array<[opts: ConstructorParameters<typeof ConfigError>[1], expected: string]> = [
    [
      { file: 'burrow.yml', keyPath: 'ingress[2].service', hint: 'use http://host:port, https://..., unix:/path, file:///dir, http_status:404 or hello_world' },
      'burrow.yml: ingress[2].service: "htp://x" is not a valid service URL. Fix: use http://host:port, https://..., unix:/path, file:///dir, http_status:404 or hello_world',
    ],
    [{ keyPath: 'ingress' }, 'ingress: "htp://x" is not a valid service URL'],
    [{ file: 'burrow.yml', hint: 'check it' }, 'burrow.yml: "htp://x" is not a valid service URL. Fix: check it'],
  ];
  for (const [opts, expected] of messages) {
    it(`reads "${expected}"`, () => {
      const error = new ConfigError('"htp://x" is not a valid service URL', opts);
      assert.equal(error.message, expected);
      assert.equal(error.code, 'BURROW_ERR_CONFIG');
      assert.equal(error.name, 'ConfigError');
    });
  }
});
