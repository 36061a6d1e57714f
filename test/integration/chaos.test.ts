// Chaos under load, each a bounded closed loop of requests that must see no failure: one of four tunnel connections
// cut (its socket destroyed, not closed), and a rolling restart of two replicas of one tunnel.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, eventually, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll } from '../helpers/http.ts';

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const req = http.get({ host: url.hostname, port: url.port, path, headers: { host: 'app.example.test' }, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', () => resolve({ status: 0, body }));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', (error) => resolve({ status: 0, body: error.message }));
  });
}

/** `workers` closed loops of GETs until `done()` says so (or `maxMs` passed); the failures, and how many were sent. */
async function underLoad(base: string, done: Promise<unknown>, workers = 8, maxMs = 20_000): Promise<{ sent: number; failures: string[] }> {
  let stop = false;
  const halt = () => (stop = true);
  done.then(halt, halt);
  const deadline = Date.now() + maxMs;
  const failures: string[] = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; !stop && Date.now() < deadline; i++) {
        sent++;
        const path = `/w${worker}/${i}`;
        const answer = await get(base, path);
        if (answer.status !== 200 || answer.body !== `ok ${path}`) failures.push(`${path}: ${answer.status} ${answer.body.slice(0, 80)}`);
      }
    }),
  );
  return { sent, failures };
}

/** The TLS socket under an HTTP/2 session (`session.socket` is a guard that refuses destroy()): cutting it is a link failure, not a close. */
function rawSocket(session: object): Duplex {
  const key = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === 'socket');
  assert.ok(key, 'the session keeps its socket under Symbol(socket)');
  return (session as Record<symbol, Duplex>)[key];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos: one of four connections cut under load', () => {
  let edge: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  let tunnelId: string;

  before(async () => {
    // Answers after a short wait, so that requests are in flight on every connection when one is cut.
    origin = await startOrigin((req, res) => setTimeout(() => res.end(`ok ${req.url}`), 5));
    edge = await startEdge();
    const credentials = await createTunnel(edge, 'chaos', ['app.example.test']);
    tunnelId = credentials.tunnelId;
    connector = await startConnector(credentials, { 'ha-connections': 4, ingress: [{ service: origin.url }] });
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 4, 10_000, 'four connections');
  });
  after(() => stopAll(() => connector?.stop(0), () => edge.stop(), () => origin.close()));

  it('fails no request, and the connector replaces the connection', async () => {
    const cut = (async () => {
      await pause(500);
      for (let round = 0; round < 3; round++) {
        // The loop keeps every connection busy, but at a given instant one may be between requests: wait for one that is not.
        let victim: ReturnType<typeof edge.edge.connections.forTunnel>[number] | undefined;
        await eventually(() => (victim = edge.edge.connections.forTunnel(tunnelId).find((c) => c.activeStreams > 0)) !== undefined, 5_000, 'a connection with requests in flight');
        rawSocket(victim!.session).destroy();
        await pause(700);
      }
    })();
    const [{ sent, failures }] = await Promise.all([underLoad(edge.url, cut), cut]);
    assert.ok(sent > 100, `${sent} requests sent`);
    assert.deepEqual(failures, []);
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).filter((c) => c.usable).length === 4, 10_000, 'four connections again');
  });
});

describe('chaos: a rolling restart of two replicas', () => {
  let edge: TestEdge;
  let origin: TestOrigin;
  const replicas: Array<Connector | undefined> = [];
  let start: () => Promise<Connector>;
  let tunnelId: string;

  before(async () => {
    origin = await startOrigin((req, res) => setTimeout(() => res.end(`ok ${req.url}`), 5));
    edge = await startEdge();
    const credentials = await createTunnel(edge, 'rolling', ['app.example.test']);
    tunnelId = credentials.tunnelId;
    start = () => startConnector(credentials, { 'ha-connections': 2, ingress: [{ service: origin.url }] });
    replicas.push(await start(), await start());
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 4, 10_000, 'both replicas connected');
  });
  after(() => stopAll(...replicas.map((replica) => () => replica?.stop(0) ?? Promise.resolve()), () => edge.stop(), () => origin.close()));

  it('stopping each replica gracefully (SIGTERM) and starting it again fails no request', async () => {
    const roll = (async () => {
      for (let i = 0; i < replicas.length; i++) {
        await pause(400);
        // What SIGTERM runs: unregister, let requests in flight finish, close.
        await replicas[i]!.stop(5_000);
        replicas[i] = await start();
        await eventually(() => edge.edge.connections.forTunnel(tunnelId).filter((c) => c.usable).length === 4, 10_000, 'the restarted replica connected');
      }
      await pause(300);
    })();
    const { sent, failures } = await underLoad(edge.url, roll);
    await roll;
    assert.ok(sent > 100, `${sent} requests sent`);
    assert.deepEqual(failures, []);
    const connectors = new Set(edge.edge.connections.forTunnel(tunnelId).map((c) => c.connectorId));
    assert.deepEqual(connectors, new Set(replicas.map((replica) => replica!.connectorId)));
  });
});
