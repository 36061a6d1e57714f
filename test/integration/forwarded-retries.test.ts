// Retries across PoPs: a visitor lands at fra, the tunnel's 2 connections are at lhr, and the connection carrying the
// request is destroyed at lhr. A GET with no answer yet is sent once more on the other connection and succeeds; a
// POST, or a GET whose answer had begun, is never sent again.
import assert from 'node:assert/strict';
import http, { type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { startDevNetwork, type DevNetwork } from '../../plugins/network/dev/network.ts';
import { createTunnel, eventually, startConnector, startOrigin, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { visit, type VisitorResponse } from '../helpers/http.ts';

const HOST = 'app.localhost';

type Outcome = { response?: VisitorResponse; error?: Error };

describe('a request forwarded to another PoP whose tunnel connection breaks', () => {
  let network: DevNetwork;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  let tunnelId: string;
  /** Requests to /hold* at the origin, in arrival order, left unanswered until the test answers them. */
  const held: Array<{ method: string; url: string; res: ServerResponse }> = [];
  const fraUrl = () => `http://${network.pops.get('fra')!.http}`;
  const atLhr = () => network.pops.get('lhr')!.edge.connections.forTunnel(tunnelId);
  const twoAtLhr = () => eventually(() => atLhr().filter((c) => c.usable).length === 2 && connector!.connections.length === 2, 15_000, 'two connections at lhr');
  const send = (path: string, options: { method?: string; body?: string } = {}) =>
    visit(fraUrl(), path, { host: HOST, timeoutMs: 20_000, ...options }).then(
      (response): Outcome => ({ response }),
      (error: Error): Outcome => ({ error }),
    );
  /** The lhr connection carrying a held request: the one the test breaks. */
  const carrying = () => {
    const busy = atLhr().filter((c) => c.activeStreams > 0);
    assert.equal(busy.length, 1, `one connection at lhr carries the request (${JSON.stringify(atLhr().map((c) => c.activeStreams))})`);
    return busy[0]!;
  };

  before(async () => {
    origin = await startOrigin((req, res) => {
      if (req.url!.startsWith('/hold')) {
        req.resume();
        req.once('end', () => held.push({ method: req.method!, url: req.url!, res }));
        return;
      }
      res.end(`ok ${req.url}`);
    });
    network = await startDevNetwork({ pops: ['fra', 'lhr'], probeInterval: 300 });
    const fra = network.pops.get('fra')!;
    const asEdge = { api: `http://${fra.api}`, admin: new EdgeClient(`http://${fra.api}`, network.adminToken) } as TestEdge;
    const credentials = await createTunnel(asEdge, 'app', [HOST], 'localhost');
    tunnelId = credentials.tunnelId;
    connector = await startConnector({ ...credentials, edge: network.pops.get('lhr')!.tunnel }, { ingress: [{ service: origin.url }] });
    await twoAtLhr();
    // fra has no connection of its own: it forwards to lhr once its map shows the tunnel there.
    await eventually(async () => (await send('/ready')).response?.status === 200, 15_000, 'fra to serve the tunnel through lhr');
    assert.equal(network.pops.get('fra')!.edge.connections.forTunnel(tunnelId).length, 0);
  });
  after(async () => {
    for (const { res } of held.splice(0)) res.destroy();
    await connector?.stop(0);
    await network?.stop(0);
    await origin?.close();
  });

  it('a GET is sent again on the other connection at lhr, and the visitor gets its answer', async () => {
    await twoAtLhr();
    held.length = 0;
    const inFlight = send('/hold-get');
    await eventually(() => held.length === 1, 15_000, 'the GET at the origin');
    const broken = carrying();
    broken.session.destroy();
    await eventually(() => held.length === 2, 15_000, 'the GET to come again (it was answered instead, or never sent again)');
    assert.deepEqual(held.map((h) => `${h.method} ${h.url}`), ['GET /hold-get', 'GET /hold-get']);
    const retried = atLhr().find((c) => c.activeStreams > 0);
    assert.ok(retried && retried !== broken, 'the second try runs on the other connection');
    held[1]!.res.end('answered on the second try');
    const { response, error } = await inFlight;
    assert.equal(error, undefined, `the visitor got no answer: ${error?.message}`);
    assert.equal(response!.status, 200);
    assert.equal(response!.text, 'answered on the second try');
    held.length = 0;
  });

  it('a POST is not sent again: the visitor gets a 502 page naming its ray', async () => {
    await twoAtLhr();
    held.length = 0;
    const inFlight = send('/hold-post', { method: 'POST', body: 'once only' });
    await eventually(() => held.length === 1, 15_000, 'the POST at the origin');
    carrying().session.destroy();
    const { response, error } = await inFlight;
    assert.equal(error, undefined, `the visitor got no answer: ${error?.message}`);
    assert.equal(response!.status, 502);
    assert.ok(response!.text.includes(String(response!.headers['burrow-ray'])), 'the page names the ray');
    // Whatever was to come again would have reached the origin by the time the next request does.
    await twoAtLhr();
    assert.equal((await send('/after-post')).response?.status, 200);
    assert.deepEqual(held.map((h) => `${h.method} ${h.url}`), ['POST /hold-post'], 'the POST reached the origin once');
    held.length = 0;
  });

  it('a GET whose answer had begun is not sent again: the visitor sees the answer cut short', async () => {
    await twoAtLhr();
    held.length = 0;
    const url = new URL('/hold-begun', fraUrl());
    let headReceived!: (status: number) => void;
    const head = new Promise<number>((resolve) => (headReceived = resolve));
    const outcome = new Promise<{ body: string; complete: boolean }>((resolve) => {
      const req = http.get({ host: url.hostname, port: url.port, path: url.pathname, headers: { host: HOST }, agent: false }, (res) => {
        headReceived(res.statusCode ?? 0);
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => void (body += chunk));
        res.once('end', () => resolve({ body, complete: res.complete }));
        res.once('error', () => resolve({ body, complete: false }));
        res.once('aborted', () => resolve({ body, complete: false }));
      });
      req.once('error', () => resolve({ body: '', complete: false }));
    });
    await eventually(() => held.length === 1, 15_000, 'the GET at the origin');
    const { res } = held[0]!;
    res.writeHead(200, { 'content-length': '100' });
    res.write('the first part');
    assert.equal(await head, 200, 'the answer began');
    carrying().session.destroy();
    const { body, complete } = await outcome;
    assert.equal(complete, false, `the visitor took a cut answer for a whole one: ${body}`);
    await twoAtLhr();
    assert.equal((await send('/after-begun')).response?.status, 200);
    assert.deepEqual(held.map((h) => `${h.method} ${h.url}`), ['GET /hold-begun'], 'the GET reached the origin once');
    held.length = 0;
  });
});
