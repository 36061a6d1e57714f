// Plugin failures: each startup problem is a clear error naming the plugin; a plugin that throws on one request
// gives that request a 502 with its ray id and leaves every other request alone.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { Edge } from '../../core/edge/edge.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { edgeSchema } from '../../config/schema.ts';
import { runCli } from '../helpers/cli.ts';
import { createTunnel, removeDir, startConnector, startOrigin, tempDir, type TestEdge, type TestOrigin, ADMIN_TOKEN, stopWorld } from '../helpers/harness.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { visit } from '../helpers/http.ts';

let dir: string;

before(async () => {
  dir = await tempDir('burrow-plugin-failures-');
  await mkdir(path.join(dir, 'plugins'));
  await writeFile(path.join(dir, 'plugins', 'exploding.mjs'), `export default { id: 'exploding', connector() { throw new Error('no licence key in LICENCE_KEY'); } };\n`);
  await writeFile(path.join(dir, 'plugins', 'flaky.mjs'),
    `export default { id: 'flaky', connector(api) { api.use(async (ctx, next) => { if (ctx.path.startsWith('/boom')) throw new Error('flaky broke'); await next(); }); }, edge(api) { api.use(async (ctx, next) => { if (ctx.req.url === '/edge-boom') throw new Error('edge broke'); await next(); }); } };\n`);
});

after(async () => {
  await removeDir(dir);
});

/** Writes a config file and runs `burrow tunnel ingress validate` on it, as a user checking their config would. */
async function validate(name: string, yaml: string) {
  const file = path.join(dir, name);
  await writeFile(file, yaml);
  const result = await runCli(['tunnel', 'ingress', 'validate', '--config', file], { ...process.env, BURROW_HOME: dir });
  return { ...result, file };
}

describe('startup errors name the plugin', () => {
  it('an unknown plugin', async () => {
    const { code, stderr, file } = await validate('unknown.yaml', 'plugins:\n  - rate-limitt\ningress:\n  - service: http_status:404\n');
    assert.equal(code, 1);
    assert.ok(stderr.includes(`${file}: plugins[0]: unknown plugin "rate-limitt"`), stderr);
    assert.match(stderr, /Fix: /);
  });

  it('a path that does not resolve', async () => {
    const { code, stderr } = await validate('missing.yaml', 'plugins:\n  - ./plugins/missing.ts\ningress:\n  - service: http_status:404\n');
    assert.equal(code, 1);
    assert.match(stderr, /plugins\[0\]: plugin path "\.\/plugins\/missing\.ts" does not resolve/);
  });

  it('invalid options, with the key path and what was expected', async () => {
    const { code, stderr } = await validate('options.yaml', 'plugins:\n  - use: rate-limit\n    options: { perMinute: lots }\ningress:\n  - service: http_status:404\n');
    assert.equal(code, 1);
    assert.match(stderr, /plugins\[0\]\.options\.perMinute: plugin "rate-limit": .*expected number/);
  });

  it('an unknown option', async () => {
    const { stderr } = await validate('unknown-option.yaml', 'plugins:\n  - use: compress\n    options: { minBytez: 10 }\ningress:\n  - service: http_status:404\n');
    assert.match(stderr, /plugins\[0\]\.options: plugin "compress": unknown option "minBytez"/);
  });

  it('invalid options of middleware listed in a rule', async () => {
    const { code, stderr } = await validate('rule.yaml', 'ingress:\n  - hostname: a.example.test\n    service: http_status:200\n    middleware:\n      - { use: ip-filter, options: { deny: [not-an-ip] } }\n  - service: http_status:404\n');
    assert.equal(code, 1);
    assert.match(stderr, /ingress\[0\]\.middleware\[0\]\.options\.deny\[0\]: plugin "ip-filter": expected an IP address or CIDR range/);
  });

  it('a misspelt instance name in a rule', async () => {
    const { stderr } = await validate(
      'name.yaml',
      'plugins:\n  - { use: basic-auth, name: staff-login, options: { users: { a: b } } }\ningress:\n  - hostname: a.example.test\n    service: http_status:200\n    middleware: [staff-logn]\n  - service: http_status:404\n',
    );
    assert.match(stderr, /ingress\[0\]\.middleware\[0\]: no plugin instance is named "staff-logn". Fix: did you mean "staff-login"\?/);
  });

  it('a plugin that throws during setup', async () => {
    const { code, stderr } = await validate('throws.yaml', 'plugins:\n  - ./plugins/exploding.mjs\ningress:\n  - service: http_status:404\n');
    assert.equal(code, 1);
    assert.match(stderr, /plugin "exploding" failed in connector setup: no licence key in LICENCE_KEY/);
  });
});

describe('a plugin that throws on one request', () => {
  let edge: TestEdge;
  let origin: TestOrigin;
  let connector: Connector;

  before(async () => {
    origin = await startOrigin((_req, res) => res.end('fine'));
    const dataDir = await tempDir('burrow-edge-');
    const instance = new Edge({
      settings: edgeSchema.parse({ pop: 'test', zones: ['example.test'], dataDir, listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0' } }),
      plugins: ['./plugins/flaky.mjs'],
      configFile: path.join(dir, 'edge.yaml'),
      log: silentLogger,
    });
    const addresses = await instance.start();
    edge = { edge: instance, dataDir, url: `http://${addresses.http}`, api: `http://${addresses.api}`, admin: new EdgeClient(`http://${addresses.api}`, ADMIN_TOKEN), stop: (g = 0) => instance.stop(g) };
    const credentials = await createTunnel(edge, 'flaky', ['app.example.test']);
    connector = await startConnector(credentials, { plugins: ['./plugins/flaky.mjs'], ingress: [{ service: origin.url }] }, { configFile: path.join(dir, 'connector.yaml') });
  });

  after(() => stopWorld({ connector, edge, origin }));

  it('gives that request a 502 naming its ray id, and every other request its answer', async () => {
    const paths = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? `/boom/${i}` : `/ok/${i}`));
    const responses = await Promise.all(paths.map((p) => visit(edge.url, p)));
    for (const [i, res] of responses.entries()) {
      if (paths[i]!.startsWith('/boom')) {
        assert.equal(res.status, 502, paths[i]);
        const ray = String(res.headers['burrow-ray']);
        assert.ok(res.text.includes(ray), 'the page names the ray id');
        assert.match(res.text, /plugin failed/);
      } else {
        assert.equal(res.status, 200, paths[i]);
        assert.equal(res.text, 'fine');
      }
    }
  });

  it('does the same for an edge plugin', async () => {
    const [broken, fine] = await Promise.all([visit(edge.url, '/edge-boom'), visit(edge.url, '/ok')]);
    assert.equal(broken.status, 502);
    assert.ok(broken.text.includes(String(broken.headers['burrow-ray'])));
    assert.match(broken.text, /edge plugin failed/);
    assert.equal(fine.status, 200);
  });
});
