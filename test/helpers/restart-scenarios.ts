// Restarts under load, counted: an edge and two connector replicas of one tunnel run as processes while slow requests
// (answers after 200 ms, streamed bodies, POSTs echoed after 200 ms) go through them at a fixed rate.
//  1. One replica gets SIGTERM with requests in flight: it must finish them and take no new ones; nothing may fail.
//  2. The edge gets SIGTERM and is started again on the same ports and dataDir: requests it had taken must complete;
//     visitors fail while nothing listens (counted); the connectors register again and the load succeeds again.
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { removeDir, tempDir } from './harness.ts';
import {
  HOST,
  STREAM_CHUNKS,
  createTunnelToken,
  delay,
  fixedRateLoad,
  loopbackListen,
  startConnectorProcess,
  startEdgeProcess,
  startLoadOrigin,
  streamChunk,
  waitReady,
  type ConnectorProcess,
  type EdgeProcess,
  type LoadOrigin,
} from './process-world.ts';

export interface Outcome {
  id: string;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  error?: string;
}

export interface ConnectorStopCounts {
  requests: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  /** Requests the origin had received before SIGTERM that were not answered yet. */
  inFlightAtSigterm: number;
  /** The stopped replica's own count of requests in flight when it got SIGTERM (its metrics). */
  stoppedReplicaInFlight: number;
  stoppedExit: { code: number | null; signal: string | null; killed: boolean };
  /** Requests started after the stopped replica exited, and how many of them succeeded. */
  afterExit: number;
  afterExitOk: number;
  replicaStillRunning: boolean;
}

export interface EdgeRestartCounts {
  requests: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  /** Requests the origin received at all (the edge had taken them), and how many of those failed. */
  reachedOrigin: number;
  reachedOriginFailed: number;
  /** Requests the origin had received before SIGTERM, unanswered then, and how many of those failed. */
  inFlightAtSigterm: number;
  inFlightAtSigtermFailed: number;
  /** Failed requests that never reached the origin: no edge listening, or no connection registered yet. */
  visitorSideFailures: number;
  edgeExit: { code: number | null; signal: string | null; killed: boolean };
  /** ms from SIGTERM to the old edge's exit, to the new edge's readiness, to every connection registered again. */
  exitMs: number;
  restartedMs: number;
  reRegisteredMs: number;
  /** Requests started once every connection was registered again, and how many of them succeeded. */
  afterReRegistered: number;
  afterReRegisteredOk: number;
  connectorsStillRunning: boolean;
}

const SLOW_MS = 200;

/** Issues slow GETs, streamed GETs and slow POSTs in turn; records each outcome. */
class SlowLoad {
  readonly outcomes: Outcome[] = [];
  private pool: Pool;

  constructor(
    visitors: string,
    private readonly prefix: string,
  ) {
    this.pool = new Pool(visitors, { connections: 32, headersTimeout: 30_000, bodyTimeout: 30_000, keepAliveTimeout: 4_000 });
  }

  async fire(i: number): Promise<void> {
    const id = `${this.prefix}-${i}`;
    const startedAt = Date.now();
    const kind = i % 3;
    let outcome: Outcome;
    try {
      let expected: string;
      let body: Buffer | undefined;
      let path: string;
      if (kind === 0) {
        path = `/slow/${id}`;
        expected = `slow ${id}`;
      } else if (kind === 1) {
        path = `/stream/${id}`;
        expected = Array.from({ length: STREAM_CHUNKS }, (_, n) => streamChunk(id, n)).join('');
      } else {
        path = `/slow/${id}`;
        body = randomBytes(512);
        expected = body.toString('latin1');
      }
      const response = await this.pool.request({ path, method: body ? 'POST' : 'GET', headers: { host: HOST }, body });
      const text = Buffer.from(await response.body.arrayBuffer()).toString(body ? 'latin1' : 'utf8');
      if (response.statusCode !== 200) outcome = { id, startedAt, endedAt: Date.now(), ok: false, error: `status ${response.statusCode}` };
      else if (text !== expected) outcome = { id, startedAt, endedAt: Date.now(), ok: false, error: 'wrong or cut body' };
      else outcome = { id, startedAt, endedAt: Date.now(), ok: true };
    } catch (error) {
      const err = error as Error & { code?: string };
      outcome = { id, startedAt, endedAt: Date.now(), ok: false, error: err.code ?? err.message };
    }
    this.outcomes.push(outcome);
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

function errorKinds(outcomes: Outcome[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok) kinds[o.error!] = (kinds[o.error!] ?? 0) + 1;
  return kinds;
}

async function scrape(connector: ConnectorProcess, name: string): Promise<number> {
  const response = await fetch(`${connector.metrics}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(await response.text())?.[1];
  return Number(value ?? 0);
}

/** Requests the origin has received and the load has not seen answered yet. */
function unanswered(origin: LoadOrigin, load: SlowLoad, prefix: string): number {
  const done = new Set(load.outcomes.map((o) => o.id));
  let n = 0;
  for (const id of origin.received.keys()) if (id.startsWith(`${prefix}-`) && !done.has(id)) n++;
  return n;
}

export interface RestartWorld {
  dir: string;
  origin: LoadOrigin;
  edge: EdgeProcess;
  token: string;
  edgeSettings: Record<string, unknown>;
  replicas: ConnectorProcess[];
  close(): Promise<void>;
}

/** An edge and two connector replicas (2 connections each, grace period 10 s) of one tunnel. */
export async function startRestartWorld({ edgeGracePeriod = '10s' }: { edgeGracePeriod?: string } = {}): Promise<RestartWorld> {
  const dir = await tempDir('burrow-restarts-');
  const origin = await startLoadOrigin(SLOW_MS);
  const edge = await startEdgeProcess(dir, await loopbackListen(), { gracePeriod: edgeGracePeriod });
  const token = await createTunnelToken(edge, 'replicated');
  const world: RestartWorld = {
    dir,
    origin,
    edge,
    token,
    edgeSettings: { gracePeriod: edgeGracePeriod },
    replicas: [],
    close: async () => {
      for (const replica of world.replicas) replica.process.kill();
      world.edge.process.kill();
      await Promise.all([...world.replicas.map((r) => r.process.exited), world.edge.process.exited]);
      await origin.close();
      await removeDir(dir);
    },
  };
  try {
    world.replicas.push(await startConnectorProcess(dir, 'replica-a', token, origin.url));
    world.replicas.push(await startConnectorProcess(dir, 'replica-b', token, origin.url));
  } catch (error) {
    await world.close();
    throw error;
  }
  return world;
}

/** SIGTERM to replica 0 while the load runs; the load goes on on the other replica after it exited. */
export async function connectorSigtermUnderLoad(world: RestartWorld, rate = 40): Promise<ConnectorStopCounts> {
  const [stopped, other] = world.replicas as [ConnectorProcess, ConnectorProcess];
  const load = new SlowLoad(world.edge.visitors, 'c');
  let finish = false;
  const running = fixedRateLoad({ rate, durationMs: 60_000, maxInFlight: 500, fire: (i) => load.fire(i), stop: () => finish });
  let stoppedReplicaInFlight = 0;
  let sigtermAt = 0;
  let exitedAt = 0;
  let stoppedExit: ConnectorStopCounts['stoppedExit'];
  try {
    await delay(1_000);
    // SIGTERM once the replica is serving some requests (bounded: after 10 s it gets SIGTERM anyway).
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await delay(20)) {
      stoppedReplicaInFlight = await scrape(stopped, 'burrow_tunnel_concurrent_requests_per_tunnel').catch(() => 0);
      if (stoppedReplicaInFlight > 0) break;
    }
    sigtermAt = Date.now();
    const exit = await stopped.process.stop(30_000);
    exitedAt = Date.now();
    stoppedExit = { code: exit.code, signal: exit.signal, killed: exit.killed };
    await delay(1_500);
  } finally {
    finish = true;
    await running;
    await load.close();
  }
  world.replicas.shift();
  const outcomes = load.outcomes;
  const received = world.origin.received;
  const afterExit = outcomes.filter((o) => o.startedAt >= exitedAt);
  return {
    requests: outcomes.length,
    ok: outcomes.filter((o) => o.ok).length,
    failed: outcomes.filter((o) => !o.ok).length,
    errors: errorKinds(outcomes),
    inFlightAtSigterm: outcomes.filter((o) => (received.get(o.id) ?? Infinity) < sigtermAt && o.endedAt >= sigtermAt).length,
    stoppedReplicaInFlight,
    stoppedExit: stoppedExit!,
    afterExit: afterExit.length,
    afterExitOk: afterExit.filter((o) => o.ok).length,
    replicaStillRunning: other.process.running,
  };
}

/** SIGTERM to the edge while the load runs, then the edge again on the same ports and dataDir. */
export async function edgeRestartUnderLoad(world: RestartWorld, rate = 40): Promise<EdgeRestartCounts> {
  const load = new SlowLoad(world.edge.visitors, 'e');
  let finish = false;
  const running = fixedRateLoad({ rate, durationMs: 90_000, maxInFlight: 500, fire: (i) => load.fire(i), stop: () => finish });
  let sigtermAt = 0;
  let exitedAt = 0;
  let restartedAt = 0;
  let reRegisteredAt = 0;
  let edgeExit: EdgeRestartCounts['edgeExit'];
  try {
    await delay(1_000);
    // SIGTERM once the edge has requests in flight at the origin (bounded).
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && unanswered(world.origin, load, 'e') === 0; ) await delay(10);
    sigtermAt = Date.now();
    const exit = await world.edge.process.stop(30_000);
    exitedAt = Date.now();
    edgeExit = { code: exit.code, signal: exit.signal, killed: exit.killed };
    world.edge = await startEdgeProcess(world.dir, world.edge.listen, world.edgeSettings);
    restartedAt = Date.now();
    for (const replica of world.replicas) await waitReady(replica, 2, 60_000);
    reRegisteredAt = Date.now();
    await delay(2_000);
  } finally {
    finish = true;
    await running;
    await load.close();
  }
  const outcomes = load.outcomes;
  const received = world.origin.received;
  const reached = outcomes.filter((o) => received.has(o.id));
  const inFlight = outcomes.filter((o) => received.get(o.id)! < sigtermAt && o.endedAt >= sigtermAt);
  const after = outcomes.filter((o) => o.startedAt >= reRegisteredAt);
  return {
    requests: outcomes.length,
    ok: outcomes.filter((o) => o.ok).length,
    failed: outcomes.filter((o) => !o.ok).length,
    errors: errorKinds(outcomes),
    reachedOrigin: reached.length,
    reachedOriginFailed: reached.filter((o) => !o.ok).length,
    inFlightAtSigterm: inFlight.length,
    inFlightAtSigtermFailed: inFlight.filter((o) => !o.ok).length,
    visitorSideFailures: outcomes.filter((o) => !o.ok && !received.has(o.id)).length,
    edgeExit: edgeExit!,
    exitMs: exitedAt - sigtermAt,
    restartedMs: restartedAt - sigtermAt,
    reRegisteredMs: reRegisteredAt - sigtermAt,
    afterReRegistered: after.length,
    afterReRegisteredOk: after.filter((o) => o.ok).length,
    connectorsStillRunning: world.replicas.every((r) => r.process.running),
  };
}

/** Replaces the stopped replica, as a rolling restart does, so the edge restart has two replicas again. */
export async function replaceStoppedReplica(world: RestartWorld): Promise<void> {
  world.replicas.unshift(await startConnectorProcess(world.dir, 'replica-c', world.token, world.origin.url));
}
