// End to end through a real edge and connector: global and per-rule connector middleware, an edge-side deny list,
// the visitor IP the rate limit sees, and a compressed body that streams before the origin has finished.
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Edge } from '../../core/edge/edge.ts';
import type { Connector } from '../../core/connector/connector.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { edgeSchema } from '../../config/schema.ts';
import { ADMIN_TOKEN, createTunnel, eventually, startConnector, startOrigin, tempDir, type TestEdge, type TestOrigin, stopWorld } from '../helpers/harness.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { visit } from '../helpers/http.ts';

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;
const seenPaths: string[] = [];
let releaseStream: (() => void) | undefined;

const auth = { authorization: `Basic ${Buffer.from('alice:wonderland').toString('base64')}` };

/** Semi-random text: compressible, but not to nothing. */
function textChunk(bytes: number, seed: number): string {
  let out = '';
  let x = seed;
  while (out.length < bytes) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out += `word${x % 997} `;
  }
  return out.slice(0, bytes);
}

before(async () => {
  origin = await startOrigin((req, res) => {
    seenPaths.push(`${req.headers.host}${req.url}`);
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(textChunk(1024 * 1024, 1));
      // The rest comes only once the visitor has received compressed bytes: a buffering compressor would deadlock here.
      releaseStream = () => res.end(textChunk(1024 * 1024, 2));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: req.url, user: req.headers['x-forwarded-user'] ?? null, ip: req.headers['burrow-connecting-ip'] }));
  });
  const dataDir = await tempDir('burrow-edge-');
  const instance = new Edge({
    settings: edgeSchema.parse({ pop: 'test', zones: ['example.test'], dataDir, listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0' } }),
    plugins: [{ use: 'ip-filter', options: { deny: ['127.0.0.0/8'], hostnames: ['blocked.example.test'] } }],
    log: silentLogger,
  });
  const addresses = await instance.start();
  edge = {
    edge: instance,
    dataDir,
    url: `http://${addresses.http}`,
    api: `http://${addresses.api}`,
    admin: new EdgeClient(`http://${addresses.api}`, ADMIN_TOKEN),
    stop: (graceMs = 0) => instance.stop(graceMs),
  };
  const credentials = await createTunnel(edge, 'mw', ['app.example.test', 'admin.example.test', 'blocked.example.test', 'limited.example.test']);
  connector = await startConnector(credentials, {
    plugins: [
      { use: 'headers', options: { response: { set: { 'x-frame-options': 'DENY' } } } },
      { use: 'basic-auth', name: 'staff', options: { realm: 'Staff', users: { alice: 'wonderland' } } },
    ],
    ingress: [
      { hostname: 'admin.example.test', service: origin.url, middleware: ['staff', 'compress'] },
      { hostname: 'limited.example.test', service: origin.url, middleware: [{ use: 'rate-limit', options: { perMinute: 1 } }] },
      { service: origin.url },
    ],
  });
});

after(() => stopWorld({ connector, edge, origin }));

describe('connector middleware end to end', () => {
  it('runs global middleware on every rule', async () => {
    const res = await visit(edge.url, '/', { host: 'app.example.test' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(JSON.parse(res.text).user, null);
  });

  it('runs a named instance only on the rules that list it, after the global middleware', async () => {
    const refused = await visit(edge.url, '/', { host: 'admin.example.test' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Basic realm="Staff", charset="UTF-8"');
    assert.equal(refused.headers['x-frame-options'], 'DENY');
    assert.match(String(refused.headers['burrow-ray']), /-test$/);
    const ok = await visit(edge.url, '/', { host: 'admin.example.test', headers: auth });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.text).user, 'alice');
  });

  it('limits by the visitor address the edge reports, per rule', async () => {
    const first = await visit(edge.url, '/', { host: 'limited.example.test' });
    assert.equal(first.status, 200);
    assert.equal(JSON.parse(first.text).ip, '127.0.0.1');
    const second = await visit(edge.url, '/', { host: 'limited.example.test' });
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers['retry-after']) >= 1);
    assert.equal((await visit(edge.url, '/', { host: 'app.example.test' })).status, 200, 'other rules are not limited');
  });

  it('streams a compressed body: the visitor gets bytes before the origin has finished', async () => {
    const chunks: Buffer[] = [];
    const done = new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get(`${edge.url}/stream`, { headers: { host: 'admin.example.test', 'accept-encoding': 'gzip', ...auth } }, resolve);
      req.on('error', reject);
    });
    const res = await done;
    assert.equal(res.headers['content-encoding'], 'gzip');
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => res.on('end', resolve));
    await eventually(() => chunks.length > 0 && releaseStream !== undefined, 15_000, 'compressed bytes before the origin finished');
    releaseStream!();
    await ended;
    const body = gunzipSync(Buffer.concat(chunks)).toString();
    assert.equal(body, textChunk(1024 * 1024, 1) + textChunk(1024 * 1024, 2));
  });
});

describe('edge middleware end to end', () => {
  it('refuses a denied visitor at the edge with a 403 page naming the ray id; the origin never sees it', async () => {
    const before = seenPaths.length;
    const res = await visit(edge.url, '/secret', { host: 'blocked.example.test' });
    assert.equal(res.status, 403);
    const ray = String(res.headers['burrow-ray']);
    assert.match(ray, /^[0-9a-f]{16}-test$/);
    assert.ok(res.text.includes(ray));
    assert.equal(seenPaths.length, before);
    assert.ok(!seenPaths.some((p) => p.startsWith('blocked.example.test')));
  });
});
