// Child-process scenarios (run by graceful-shutdown and connector-failure tests): a connector stops or dies mid-request.
import http from 'node:http';
import type { Connector } from '../../../core/connector/connector.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin } from '../../helpers/harness.ts';
import { stopAll, visit } from '../../helpers/http.ts';
import { serveScenarios } from '../../helpers/isolated.ts';

export const PART = 'first half of a slow answer;';
export const REST = ' and the second half, 1.5 s later.';

interface World {
  edge: TestEdge;
  origin: TestOrigin;
  connectors: Connector[];
  /** Resolves when the origin has received the next /slow, /silent or /partial request. */
  arrival(): Promise<void>;
  /** A tunnel for `hostname` with a connector proxying to the origin. */
  connect(name: string, hostname: string): Promise<{ connector: Connector; tunnelId: string; credentials: Awaited<ReturnType<typeof createTunnel>> }>;
}

async function world(): Promise<World> {
  const waiting: Array<() => void> = [];
  const origin = await startOrigin((req, res) => {
    const arrived = () => {
      for (const resolve of waiting.splice(0)) resolve();
    };
    if (req.url?.startsWith('/slow')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(PART + REST) });
      res.write(PART);
      arrived();
      const timer = setTimeout(() => res.end(REST), 1_500);
      res.once('close', () => clearTimeout(timer));
    } else if (req.url?.startsWith('/silent')) {
      arrived(); // never answers
    } else if (req.url?.startsWith('/partial')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1_000 });
      res.write('only the beginning');
      arrived(); // the rest never comes
    } else {
      res.end(`fast ${req.url}`);
    }
  });
  const edge = await startEdge();
  const connectors: Connector[] = [];
  return {
    edge,
    origin,
    connectors,
    arrival: () => new Promise((resolve) => waiting.push(resolve)),
    async connect(name, hostname) {
      const credentials = await createTunnel(edge, name, [hostname]);
      const connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
      connectors.push(connector);
      await eventually(() => edge.edge.connections.forTunnel(credentials.tunnelId).length === 2, 10_000, `two connections for ${name}`);
      return { connector, tunnelId: credentials.tunnelId, credentials };
    },
  };
}

async function teardown(w: World): Promise<void> {
  await stopAll(...w.connectors.map((c) => () => c.stop(0)), () => w.edge.stop(), () => w.origin.close(), () => removeDir(w.edge.dataDir));
}

/** A visitor request that reports how it ended instead of throwing. */
async function outcomeOf(promise: Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }>): Promise<{ status?: number; text?: string; ray?: string; error?: string }> {
  try {
    const response = await promise;
    return { status: response.status, text: response.text, ray: String(response.headers['burrow-ray'] ?? '') };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Whether the edge still answers for another, healthy tunnel. */
async function healthy(w: World, hostname: string): Promise<number | string> {
  const response = await outcomeOf(visit(w.edge.url, '/health', { host: hostname, timeoutMs: 5_000 }));
  return response.status ?? String(response.error);
}

/** Runs `scenario` in a fresh world and tears the world down whatever happens. */
async function inWorld<T>(scenario: (w: World) => Promise<T>): Promise<T> {
  const w = await world();
  try {
    return await scenario(w);
  } finally {
    await teardown(w);
  }
}

/** A tunnel `name` beside a healthy bystander; `end` is done to its connector while the origin sits on a request. */
async function unansweredWhile(w: World, name: string, end: (connector: Connector) => unknown): Promise<unknown> {
  await w.connect('bystander', 'bystander.example.test');
  const host = `${name}.example.test`;
  const { connector } = await w.connect(name, host);
  const arrived = w.arrival();
  const inFlight = outcomeOf(visit(w.edge.url, '/silent', { host, timeoutMs: 10_000 }));
  await arrived;
  await end(connector);
  return { inFlight: await inFlight, bystander: await healthy(w, 'bystander.example.test') };
}

const scenarios: Record<string, () => Promise<unknown>> = {
  /** connector.stop(5 s) while a slow answer is in flight. */
  drain: () =>
    inWorld(async (w) => {
      const host = 'drain.example.test';
      const { connector, tunnelId } = await w.connect('drain', host);
      const arrived = w.arrival();
      const inFlight = outcomeOf(visit(w.edge.url, '/slow', { host, timeoutMs: 20_000 }));
      await arrived;
      const stopping = connector.stop(5_000);
      await eventually(() => w.edge.edge.connections.forTunnel(tunnelId).every((c) => c.draining), 5_000, 'the connections to be draining');
      const during = await outcomeOf(visit(w.edge.url, '/fast', { host, timeoutMs: 5_000 }));
      const completed = await inFlight;
      await stopping;
      const connectorConnections = connector.connections.length;
      await eventually(() => w.edge.edge.connections.forTunnel(tunnelId).length === 0, 5_000, 'the edge to drop the connections').catch(() => undefined);
      const after = await outcomeOf(visit(w.edge.url, '/fast', { host, timeoutMs: 5_000 }));
      return { inFlight: completed, during, after, connectorConnections, edgeConnections: w.edge.edge.connections.forTunnel(tunnelId).length };
    }),

  /** Two replicas of one tunnel; the first stops gracefully. */
  replica: () =>
    inWorld(async (w) => {
      const host = 'replicas.example.test';
      const { connector: first, tunnelId, credentials } = await w.connect('replicas', host);
      const second = await startConnector(credentials, { ingress: [{ service: w.origin.url }] });
      w.connectors.push(second);
      await eventually(() => w.edge.edge.connections.forTunnel(tunnelId).length === 4, 10_000, 'four connections from two replicas');
      await first.stop(5_000);
      const responses = [];
      for (let i = 0; i < 10; i++) responses.push(await outcomeOf(visit(w.edge.url, `/fast/${i}`, { host, timeoutMs: 5_000 })));
      const remaining = [...new Set(w.edge.edge.connections.forTunnel(tunnelId).map((c) => c.connectorId))];
      return { responses, remaining, second: second.connectorId };
    }),

  /** connector.stop(300 ms) while a request the origin never answers is in flight. */
  'grace-expires': () => inWorld((w) => unansweredWhile(w, 'impatient', (connector) => connector.stop(300))),

  /** stop() with nothing in flight; calling it twice. */
  'idle-stop': () =>
    inWorld(async (w) => {
      const host = 'idle-stop.example.test';
      const { connector } = await w.connect('idle-stop', host);
      const before = await outcomeOf(visit(w.edge.url, '/fast', { host }));
      const one = connector.stop(30_000);
      const same = one === connector.stop(30_000);
      await one;
      const after = await outcomeOf(visit(w.edge.url, '/fast', { host }));
      return { before: before.status, same, after: after.status };
    }),

  /** The connector is dropped at once (second signal / crash) while a request is unanswered. */
  'abort-unanswered': () => inWorld((w) => unansweredWhile(w, 'doomed', (connector) => connector.abort())),

  /** The connector is dropped at once while a response body is half sent. */
  'abort-mid-response': () =>
    inWorld(async (w) => {
      await w.connect('bystander', 'bystander.example.test');
      const host = 'doomed.example.test';
      const { connector } = await w.connect('doomed', host);
      // The connector dies once the visitor holds the first part of the body.
      let firstBytes!: () => void;
      const arrived = new Promise<void>((resolve) => (firstBytes = resolve));
      const inFlight = new Promise<{ status?: number; received: number; complete: boolean; error?: string }>((resolve) => {
        const req = http.request(new URL('/partial', w.edge.url), { headers: { host }, agent: false }, (res) => {
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            firstBytes();
          });
          res.on('end', () => resolve({ status: res.statusCode, received, complete: res.complete }));
          res.on('error', (error) => resolve({ status: res.statusCode, received, complete: false, error: error.message }));
          res.on('aborted', () => resolve({ status: res.statusCode, received, complete: false, error: 'aborted' }));
        });
        req.on('error', (error) => resolve({ received: 0, complete: false, error: error.message }));
        req.setTimeout(10_000, () => req.destroy(new Error('the visitor got no end to the response within 10 s')));
        req.end();
      });
      await arrived;
      connector.abort();
      return { inFlight: await inFlight, bystander: await healthy(w, 'bystander.example.test') };
    }),
};

await serveScenarios(scenarios);
