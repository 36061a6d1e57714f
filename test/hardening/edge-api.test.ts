// Hostile callers of the edge API: no token, wrong or foreign tokens, traversal in names, huge and broken bodies,
// wrong content types and methods; each is refused with a clear status and no stack trace, and the tunnel still serves.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, eventually, removeDir, startConnector, startOrigin, type TestOrigin, ADMIN_TOKEN } from '../helpers/harness.ts';
import { stopAll } from '../helpers/http.ts';
import { startLoggedEdge } from '../helpers/identity.ts';

let edge: Awaited<ReturnType<typeof startLoggedEdge>>;
let origin: TestOrigin;
let connector: Connector;
let zoneToken: string;
let otherZoneToken: string;
const seen: string[] = [];

before(async () => {
  edge = await startLoggedEdge({ zones: ['example.test', 'other.test'] });
  origin = await startOrigin((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  const tunnel = await createTunnel(edge, 'api-target', ['api-target.example.test']);
  zoneToken = tunnel.apiToken;
  otherZoneToken = (await createTunnel(edge, 'other-zone', ['x.other.test'], 'other.test')).apiToken;
  connector = await startConnector(tunnel, { ingress: [{ service: origin.url }] });
  await eventually(() => edge.edge.connections.forTunnel(tunnel.tunnelId).length === 2, 20_000, 'the tunnel connected');
});
after(() => stopAll(() => connector?.stop(0), () => edge?.stop(), () => origin?.close(), () => removeDir(edge.dataDir)));

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One API call; `body` may be a Buffer (sent with Content-Length) or a generator of chunks (sent chunked). */
function call(method: string, path: string, options: { token?: string; body?: string | Buffer | (() => Iterable<Buffer>); headers?: http.OutgoingHttpHeaders } = {}): Promise<Answer> {
  const url = new URL(path, edge.api);
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers };
    const req = http.request({ host: url.hostname, port: url.port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    const { body } = options;
    if (typeof body === 'function') {
      // Chunked: stop writing once the edge answered (it stops reading at its limit).
      const chunks = body()[Symbol.iterator]();
      let answered = false;
      req.once('response', () => (answered = true));
      const pump = () => {
        while (!answered) {
          const next = chunks.next();
          if (next.done) return req.end();
          if (!req.write(next.value)) return req.once('drain', pump);
        }
      };
      pump();
    } else req.end(body);
  });
}

/** The refusal is clear (JSON with an error message), carries no stack trace, and a visitor still gets 200. */
async function assertRefused(answer: Answer, status: number, pattern?: RegExp): Promise<void> {
  assert.equal(answer.status, status, answer.text);
  assert.doesNotMatch(answer.text, /\n\s+at |\bat .+\.ts:\d+/, 'no stack trace');
  const json = JSON.parse(answer.text) as { error: string };
  assert.ok(json.error.length > 0);
  if (pattern) assert.match(json.error, pattern);
  const before = seen.length;
  const visited = await new Promise<number>((resolve, reject) => {
    const url = new URL(edge.url);
    http
      .get({ host: url.hostname, port: url.port, path: '/after-refusal', headers: { host: 'api-target.example.test' }, agent: false }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode!));
      })
      .on('error', reject);
  });
  assert.equal(visited, 200);
  await eventually(() => seen.length > before, 10_000, 'the origin seeing the visitor');
  assert.deepEqual(seen.slice(before), ['GET /after-refusal'], 'the origin saw only the visitor request');
}

const bigChunks = function* (total: number): Iterable<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
};

describe('edge API: hostile callers', () => {
  it('no token: 401', async () => assertRefused(await call('GET', '/v1/tunnels'), 401, /missing or invalid API token/));
  it('a wrong token: 401', async () => assertRefused(await call('GET', '/v1/tunnels', { token: 'bzt.forged.signature' }), 401));
  it('a token for another zone does not see or delete this zone’s tunnel: 404', async () => {
    await assertRefused(await call('GET', '/v1/tunnels/api-target', { token: otherZoneToken }), 404);
    await assertRefused(await call('DELETE', '/v1/tunnels/api-target?force=true', { token: otherZoneToken }), 404);
    await assertRefused(await call('DELETE', '/v1/routes/api-target.example.test', { token: otherZoneToken }), 404);
  });
  it('a zone token on an admin call: not the tunnel list of another zone', async () => {
    const answer = await call('GET', '/v1/tunnels', { token: otherZoneToken });
    assert.equal(answer.status, 200);
    assert.doesNotMatch(answer.text, /api-target/);
  });
  it('path traversal in names: ../, %2e%2e, %2f', async () => {
    for (const path of ['/v1/tunnels/..%2f..%2fetc%2fpasswd', '/v1/tunnels/%2e%2e%2fapi-target', '/v1/tunnels/..%2Fapi-target']) {
      await assertRefused(await call('GET', path, { token: zoneToken }), 404);
    }
    await assertRefused(await call('PUT', '/v1/routes/..%2f..%2fexample.test', { token: zoneToken, body: '{"tunnel":"api-target"}' }), 400, /not a valid hostname/);
    await assertRefused(await call('GET', '/v1/tunnels/%', { token: zoneToken }), 400, /malformed percent escape/);
  });
  it('a 10 MiB body with Content-Length is refused with 413 before it is read', async () => {
    const answer = await call('POST', '/v1/tunnels', { token: zoneToken, body: Buffer.alloc(10 * 1024 * 1024, 0x20), headers: { 'content-type': 'application/json' } }).catch((error: Error) => error);
    // The edge answers at once and closes; the client may still be writing (EPIPE), but it got the 413 first.
    if (answer instanceof Error) assert.fail(`no 413 before the close: ${answer.message}`);
    await assertRefused(answer, 413, /too large/);
  });
  it('a 10 MiB chunked body is refused with 413 at the limit', async () => {
    const answer = await call('POST', '/v1/tunnels', { token: zoneToken, body: () => bigChunks(10 * 1024 * 1024), headers: { 'content-type': 'application/json' } });
    await assertRefused(answer, 413, /too large/);
  });
  it('malformed JSON: 400 with a clear message', async () => {
    await assertRefused(await call('POST', '/v1/tunnels', { token: zoneToken, body: '{"name": "x",', headers: { 'content-type': 'application/json' } }), 400, /not valid JSON/);
  });
  it('a 10,000-character name: 400', async () => {
    const long = 'a'.repeat(10_000);
    await assertRefused(await call('POST', '/v1/tunnels', { token: zoneToken, body: JSON.stringify({ name: long }), headers: { 'content-type': 'application/json' } }), 400);
    await assertRefused(await call('GET', `/v1/tunnels/${long}`, { token: zoneToken }), 400);
    await assertRefused(await call('PUT', `/v1/routes/${long}.example.test`, { token: zoneToken, body: '{"tunnel":"api-target"}' }), 400);
  });
  it('a body that is not JSON by its content type: 415', async () => {
    await assertRefused(await call('POST', '/v1/tunnels', { token: zoneToken, body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, /must be JSON/);
  });
  it('unknown methods: 405 with Allow', async () => {
    for (const method of ['PATCH', 'PROPFIND', 'OPTIONS']) {
      const answer = await call(method, '/v1/tunnels', { token: zoneToken });
      assert.match(String(answer.headers.allow), /GET/);
      await assertRefused(answer, 405);
    }
  });
  it('the admin token still works after all of it', async () => {
    const answer = await call('GET', '/v1/tunnels/api-target', { token: ADMIN_TOKEN });
    assert.equal(answer.status, 200);
  });
});
