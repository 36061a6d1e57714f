// The request inspector against a real edge and connector: what it records, the bounds, filters, replay and its guards.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../../core/connector/connector.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin } from '../../helpers/harness.ts';
import { freePort, stopAll, visit } from '../../helpers/http.ts';

const KIB16 = 16 * 1024;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  sha256: string;
}

interface Body {
  size: number;
  kept: number;
  truncated: boolean;
  complete: boolean;
  encoding: 'text' | 'binary';
  text?: string;
  base64?: string;
}

interface Detail {
  id: number;
  ray: string;
  method: string;
  host: string;
  path: string;
  status: number | null;
  state: string;
  replayOf: number | null;
  replayable: boolean;
  totalMs: number | null;
  firstByteMs: number | null;
  request: { headers: Record<string, string>; body: Body };
  response: { headers: Record<string, string>; body: Body };
}

type Summary = Omit<Detail, 'request' | 'response' | 'replayable'>;

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;
let small: Connector;
let inspect: string;
let smallInspect: string;
const seen: Seen[] = [];

before(async () => {
  origin = await startOrigin(async (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of req) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).byteLength;
    }
    const sha256 = hash.digest('hex');
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes, sha256 });
    if (req.url === '/missing') return res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
    if (req.url === '/stream') {
      // A streamed answer, 1 MiB in 64 KiB chunks, each written after the last one drained.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let i = 0; i < 16; i++) if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      return res.end();
    }
    if (req.url === '/fail') return res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
    res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'yes' });
    res.end(JSON.stringify({ method: req.method, url: req.url, bytes, sha256 }));
  });
  edge = await startEdge();
  inspect = `127.0.0.1:${await freePort()}`;
  smallInspect = `127.0.0.1:${await freePort()}`;
  const credentials = await createTunnel(edge, 'app', ['app.example.test', 'api.example.test']);
  connector = await startConnector(credentials, {
    ingress: [{ service: origin.url }],
    inspect,
    plugins: [{ use: 'inspector', options: { max: 200, bodyBytes: KIB16 } }],
  });
  const smallCredentials = await createTunnel(edge, 'small', ['small.example.test']);
  small = await startConnector(smallCredentials, { ingress: [{ service: origin.url }], inspect: smallInspect, plugins: [{ use: 'inspector', options: { max: 3 } }] });
});

after(async () => {
  await stopAll(
    () => small?.stop(0),
    () => connector?.stop(0),
    () => edge?.stop(),
    () => origin?.close(),
    () => edge && removeDir(edge.dataDir),
  );
});

/** A request to the inspector's own server, with the Host header and method given. */
function inspector(path: string, { address = inspect, method = 'GET', headers = {} }: { address?: string; method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: any }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, headers: { host: address, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text && /json/.test(String(res.headers['content-type'])) ? JSON.parse(text) : text });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

async function list(query = '', address = inspect): Promise<Summary[]> {
  const answer = await inspector(`/api/requests${query}`, { address });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return answer.json.requests;
}

/** The finished entry whose ray the visitor got back. */
async function entryFor(ray: string, address = inspect): Promise<Detail> {
  let found: Summary | undefined;
  await eventually(async () => {
    found = (await list('', address)).find((entry) => entry.ray === ray && entry.state !== 'pending');
    return found !== undefined;
  }, 20_000, `the inspector entry of ray ${ray}`);
  return (await inspector(`/api/requests/${found!.id}`, { address })).json;
}

describe('request inspector', () => {
  let get: Detail;
  let post: Detail;
  let upload: Detail;
  let missing: Detail;

  it('lists a GET with its status, timing and headers, and the response body', async () => {
    const answer = await visit(edge.url, '/hello?x=1', { headers: { 'x-test': 'one', authorization: 'Bearer mine' } });
    assert.equal(answer.status, 200);
    get = await entryFor(String(answer.headers['burrow-ray']));
    assert.equal(get.method, 'GET');
    assert.equal(get.host, 'app.example.test');
    assert.equal(get.path, '/hello?x=1');
    assert.equal(get.status, 200);
    assert.equal(get.state, 'complete');
    assert.ok(typeof get.totalMs === 'number' && typeof get.firstByteMs === 'number' && get.firstByteMs <= get.totalMs);
    assert.equal(get.request.headers['x-test'], 'one');
    // The user's own traffic is shown as it was, credentials included.
    assert.equal(get.request.headers.authorization, 'Bearer mine');
    assert.equal(get.response.headers['x-origin'], 'yes');
    assert.equal(get.response.body.encoding, 'text');
    assert.deepEqual(JSON.parse(get.response.body.text!), JSON.parse(answer.text));
    assert.equal(get.response.body.complete, true);
    assert.equal(get.request.body.size, 0);
  });

  it('keeps a POST body that fits whole, and marks it replayable', async () => {
    const answer = await visit(edge.url, '/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=burrow&kind=tunnel' });
    assert.equal(answer.status, 200);
    post = await entryFor(String(answer.headers['burrow-ray']));
    assert.equal(post.method, 'POST');
    assert.deepEqual(post.request.body, { size: 23, kept: 23, truncated: false, complete: true, encoding: 'text', text: 'name=burrow&kind=tunnel' });
    assert.equal(post.replayable, true);
  });

  it('a 1 MiB upload reaches the origin intact while only its first 16 KiB are kept', async () => {
    const body = randomBytes(1024 * 1024);
    const answer = await visit(edge.url, '/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body, timeoutMs: 60_000 });
    assert.equal(answer.status, 200);
    const echoed = JSON.parse(answer.text) as { bytes: number; sha256: string };
    assert.equal(echoed.bytes, body.byteLength);
    assert.equal(echoed.sha256, createHash('sha256').update(body).digest('hex'));
    upload = await entryFor(String(answer.headers['burrow-ray']));
    assert.equal(upload.request.body.size, body.byteLength);
    assert.equal(upload.request.body.kept, KIB16);
    assert.equal(upload.request.body.truncated, true);
    assert.equal(upload.request.body.encoding, 'binary');
    assert.deepEqual(Buffer.from(upload.request.body.base64!, 'base64'), body.subarray(0, KIB16));
    assert.equal(upload.replayable, false);
  });

  it('a streamed 1 MiB response reaches the visitor intact while only its first 16 KiB are kept', async () => {
    const answer = await visit(edge.url, '/stream', { timeoutMs: 60_000 });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.byteLength, 1024 * 1024);
    assert.ok(answer.body.every((byte) => byte === 7));
    const entry = await entryFor(String(answer.headers['burrow-ray']));
    assert.equal(entry.response.body.size, 1024 * 1024);
    assert.equal(entry.response.body.kept, KIB16);
    assert.equal(entry.response.body.encoding, 'binary');
    assert.deepEqual(Buffer.from(entry.response.body.base64!, 'base64'), Buffer.alloc(KIB16, 7));
  });

  it('lists a 404, newest first, and filters by status and host', async () => {
    const answer = await visit(edge.url, '/missing', { host: 'api.example.test' });
    assert.equal(answer.status, 404);
    missing = await entryFor(String(answer.headers['burrow-ray']));
    assert.equal(missing.status, 404);
    assert.equal(missing.response.body.text, 'not here');
    const failed = await visit(edge.url, '/fail');
    assert.equal(failed.status, 503);
    await entryFor(String(failed.headers['burrow-ray']));

    const all = await list();
    const ids = all.map((entry) => entry.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    assert.deepEqual((await list('?status=404')).map((entry) => entry.id), [missing.id]);
    assert.deepEqual((await list('?status=4xx')).map((entry) => entry.id), [missing.id]);
    assert.ok((await list('?status=5xx')).every((entry) => entry.status! >= 500 && entry.status! < 600));
    assert.equal((await list('?status=5xx')).length, 1);
    assert.ok((await list('?status=2xx')).some((entry) => entry.id === get.id));
    assert.deepEqual((await list('?host=api.example')).map((entry) => entry.id), [missing.id]);
    assert.deepEqual((await list('?host=api.example.test&status=2xx')).map((entry) => entry.id), []);
    const refused = await inspector('/api/requests?status=teapot');
    assert.equal(refused.status, 400);
    assert.match(refused.json.error, /5xx/);
  });

  it('replays a request through the connector: the origin sees it again and it is listed as a new entry', async () => {
    const before = seen.length;
    const answer = await inspector(`/api/requests/${post.id}/replay`, { method: 'POST' });
    assert.equal(answer.status, 201, JSON.stringify(answer.json));
    assert.equal(answer.json.replayOf, post.id);
    assert.notEqual(answer.json.id, post.id);
    await eventually(() => seen.length > before, 20_000, 'the origin to see the replay');
    const replayed = seen.at(-1)!;
    assert.equal(replayed.method, 'POST');
    assert.equal(replayed.url, '/form');
    assert.equal(replayed.bytes, 23);
    assert.equal(replayed.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(replayed.headers.host, 'app.example.test');
    assert.notEqual(replayed.headers['burrow-ray'], post.ray, 'a replay gets a ray id of its own');
    const entry = await entryFor(answer.json.ray);
    assert.equal(entry.replayOf, post.id);
    assert.equal(entry.status, 200);
    assert.equal(entry.request.body.text, 'name=burrow&kind=tunnel');
    assert.equal((await list())[0]!.id, entry.id);
  });

  it('refuses to replay a request whose body was not kept whole, and replays only on POST from its own origin', async () => {
    const truncated = await inspector(`/api/requests/${upload.id}/replay`, { method: 'POST' });
    assert.equal(truncated.status, 409);
    assert.match(truncated.json.error, /larger than the part the inspector keeps/);
    assert.equal((await inspector(`/api/requests/${get.id}/replay`)).status, 405);
    const before = seen.length;
    const crossSite = await inspector(`/api/requests/${get.id}/replay`, { method: 'POST', headers: { origin: 'http://evil.test' } });
    assert.equal(crossSite.status, 403);
    const fetched = await inspector(`/api/requests/${get.id}/replay`, { method: 'POST', headers: { origin: `http://${inspect}`, 'sec-fetch-site': 'cross-site' } });
    assert.equal(fetched.status, 403);
    assert.equal(seen.length, before, 'nothing was sent to the origin');
    assert.equal((await inspector('/api/requests/999999')).status, 404);
  });

  it('answers only to its own Host (DNS rebinding)', async () => {
    for (const path of ['/', '/api/requests', `/api/requests/${get.id}`]) {
      const answer = await inspector(path, { headers: { host: 'evil.test' } });
      assert.equal(answer.status, 403, path);
      assert.equal(JSON.stringify(answer.json).includes('Bearer'), false);
    }
    const rebound = await inspector(`/api/requests/${post.id}/replay`, { method: 'POST', headers: { host: `evil.test:${inspect.split(':')[1]}` } });
    assert.equal(rebound.status, 403);
    const port = inspect.split(':')[1];
    assert.equal((await inspector('/api/requests', { headers: { host: `localhost:${port}` } })).status, 200);
  });

  it('serves the page with a strict CSP and no inline code', async () => {
    const page = await inspector('/app.js');
    assert.equal(page.status, 200);
    const html = await new Promise<{ headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: Number(inspect.split(':')[1]), path: '/', headers: { host: inspect } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      }).on('error', reject);
    });
    assert.equal(html.headers['content-security-policy'], "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    assert.doesNotMatch(html.text, /<script>|<style|style=/);
  });

  it('keeps only the last N requests (N = max)', async () => {
    const rays: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await visit(edge.url, `/n/${i}`, { host: 'small.example.test' });
      assert.equal(answer.status, 200);
      rays.push(String(answer.headers['burrow-ray']));
    }
    await entryFor(rays.at(-1)!, smallInspect);
    const kept = await list('', smallInspect);
    assert.deepEqual(kept.map((entry) => entry.path), ['/n/4', '/n/3', '/n/2']);
  });
});
