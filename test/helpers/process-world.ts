// Burrow as it runs in production, for load tests and benches: `burrow edge` and `burrow tunnel run` in their own
// processes, an origin in this one (text, echo, slow and streaming answers, WebSocket echo), and a bounded load at a
// fixed rate.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { EdgeClient } from '../../core/edge-client.ts';
import { encodeTunnelToken } from '../../plugins/origin-ca/tunnel-token.ts';
import { BURROW_BIN } from './cli.ts';
import { ADMIN_TOKEN, createTunnel, type TestEdge } from './harness.ts';
import { freePort } from './http.ts';

export const HOST = 'app.example.test';
const KEEP_OUTPUT = 64 * 1024;

/** A long-running burrow process; only the last 64 KB of its output is kept (a soak runs for many minutes). */
export class BurrowProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';

  constructor(
    readonly name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, [BURROW_BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > KEEP_OUTPUT) this.output = this.output.slice(-KEEP_OUTPUT);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    const killChild = () => this.child.kill('SIGKILL');
    process.once('exit', killChild);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        process.off('exit', killChild);
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get tail(): string {
    return this.output.slice(-3_000);
  }

  /** Waits until the output matches `pattern` (bounded); fails early if the process exits. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (!this.running) break;
      await delay(50);
    }
    throw new Error(`${this.name} did not print ${pattern} (${this.running ? 'still running' : `exited ${this.child.exitCode ?? this.child.signalCode}`})\n--- output ---\n${this.tail}`);
  }

  /** SIGTERM (a graceful stop), then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    if (!this.running) return { ...(await this.exited), killed: false };
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([this.exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
    clearTimeout(timer);
    if (killed) this.child.kill('SIGKILL');
    return { ...(await this.exited), killed };
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

export interface EdgeListen {
  http: string;
  tunnel: string;
  api: string;
}

export async function loopbackListen(): Promise<EdgeListen> {
  return { http: `127.0.0.1:${await freePort()}`, tunnel: `127.0.0.1:${await freePort()}`, api: `127.0.0.1:${await freePort()}` };
}

export interface EdgeProcess {
  process: BurrowProcess;
  listen: EdgeListen;
  visitors: string;
  api: string;
}

/**
 * `burrow edge` on fixed loopback ports with its dataDir under `dir`; started again with the same `listen` and `dir`
 * it is the same edge (tunnels, routes and CA persist). Retries briefly while the old ports are released.
 */
export async function startEdgeProcess(dir: string, listen: EdgeListen, settings: Record<string, unknown> = {}): Promise<EdgeProcess> {
  const file = path.join(dir, 'edge.json');
  await writeFile(file, JSON.stringify({ edge: { pop: 'load', zones: ['example.test'], dataDir: path.join(dir, 'edge-data'), gracePeriod: '10s', ...settings, listen } }));
  for (let attempt = 0; ; attempt++) {
    const edge = new BurrowProcess('burrow edge', ['edge', '--config', file], { BURROW_EDGE_TOKEN: ADMIN_TOKEN, BURROW_LOG_LEVEL: 'info' });
    try {
      await edge.waitFor(/"edge ready"/);
      return { process: edge, listen, visitors: `http://${listen.http}`, api: `http://${listen.api}` };
    } catch (error) {
      edge.kill();
      if (attempt >= 30 || !/already in use/.test(edge.tail)) throw error;
      await delay(200);
    }
  }
}

/** Creates a tunnel routed from HOST on the edge; the answer is a `burrow tunnel token` string. */
export async function createTunnelToken(edge: EdgeProcess, name = 'load'): Promise<string> {
  const credentials = await createTunnel({ api: edge.api, admin: new EdgeClient(edge.api, ADMIN_TOKEN) } as TestEdge, name, [HOST]);
  return encodeTunnelToken({
    zone: credentials.zone,
    tunnelId: credentials.tunnelId,
    tunnelName: credentials.tunnelName ?? name,
    secret: credentials.tunnelSecret,
    edge: credentials.edge!,
    caPem: credentials.tls.caPem,
    certPem: credentials.tls.certPem!,
    keyPem: credentials.tls.keyPem!,
  });
}

export interface ConnectorProcess {
  process: BurrowProcess;
  /** `http://host:port` of its metrics server (/metrics, /ready). */
  metrics: string;
}

/** `burrow tunnel run` with a token and one catch-all rule to `originUrl`; resolves once `ha-connections` are registered. */
export async function startConnectorProcess(dir: string, name: string, token: string, originUrl: string, config: Record<string, unknown> = {}): Promise<ConnectorProcess> {
  const metrics = `127.0.0.1:${await freePort()}`;
  const file = path.join(dir, `${name}.json`);
  const settings = { 'ha-connections': 2, 'grace-period': '10s', ...config, metrics, ingress: [{ service: originUrl }] };
  await writeFile(file, JSON.stringify(settings));
  const connector = new BurrowProcess(`burrow tunnel run (${name})`, ['tunnel', 'run', '--config', file], {
    BURROW_TUNNEL_TOKEN: token,
    BURROW_HOME: path.join(dir, `${name}-home`),
    BURROW_LOG_LEVEL: 'info',
  });
  const result = { process: connector, metrics: `http://${metrics}` };
  await waitReady(result, settings['ha-connections'] as number);
  return result;
}

/** Waits until the connector reports `connections` registered connections on /ready. */
export async function waitReady(connector: ConnectorProcess, connections: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && connector.process.running) {
    const ready = await getJson<{ readyConnections?: number }>(`${connector.metrics}/ready`).catch(() => undefined);
    if ((ready?.readyConnections ?? 0) >= connections) return;
    await delay(100);
  }
  throw new Error(`${connector.process.name} did not register ${connections} connections\n--- output ---\n${connector.process.tail}`);
}

export interface ProcessSample {
  rssBytes: number;
  heapUsedBytes?: number;
  fds: number;
}

/** RSS from /proc/<pid>/status, open file descriptors from /proc/<pid>/fd, used heap from a Prometheus scrape. */
export async function sampleProcess(pid: number, metricsUrl: string, prefix: string): Promise<ProcessSample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  const text = await getText(metricsUrl).catch(() => '');
  const heap = new RegExp(`^${prefix}nodejs_heap_size_used_bytes (\\S+)$`, 'm').exec(text)?.[1];
  return { rssBytes: rssKb * 1024, heapUsedBytes: heap === undefined ? undefined : Number(heap), fds };
}

export interface LoadOrigin {
  url: string;
  /** When each /slow/<id> and /stream/<id> request reached the origin (ms since the epoch), and how many did. */
  received: Map<string, number>;
  close(): Promise<void>;
}

export const STREAM_CHUNKS = 4;
export const streamChunk = (id: string, i: number) => `chunk ${i} of ${id};`;

/**
 * GET /get/<x> answers `ok /get/<x>`; POST /echo echoes the body (POST /slow/<id> too, after `slowMs`);
 * GET /slow/<id> answers `slow <id>` after `slowMs`; GET /stream/<id> streams STREAM_CHUNKS chunks `slowMs / 2` apart; /ws echoes WebSocket messages.
 */
export async function startLoadOrigin(slowMs = 200): Promise<LoadOrigin> {
  const received = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (req.method === 'POST') {
      const slow = url.startsWith('/slow/');
      if (slow) received.set(url.slice('/slow/'.length), Date.now());
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const answer = () => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.concat(chunks));
        if (slow) later(slowMs, answer);
        else answer();
      });
      return;
    }
    if (url.startsWith('/slow/')) {
      const id = url.slice('/slow/'.length);
      received.set(id, Date.now());
      req.resume();
      later(slowMs, () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`slow ${id}`));
      return;
    }
    if (url.startsWith('/stream/')) {
      const id = url.slice('/stream/'.length);
      received.set(id, Date.now());
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      const write = (i: number) => {
        if (res.destroyed) return;
        if (i === STREAM_CHUNKS) return void res.end();
        res.write(streamChunk(id, i));
        later(slowMs / 2, () => write(i + 1));
      };
      write(0);
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${url}`);
  });
  server.keepAliveTimeout = 60_000;
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (socket) => {
    socket.on('message', (data, binary) => socket.send(data, { binary }));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface LoadResult {
  started: number;
  /** Ticks at which the in-flight cap was reached, so a request was not started. */
  skipped: number;
}

/**
 * Starts `fire(i)` `rate` times a second until `durationMs` passed or `stop()` says so, never more than `maxInFlight`
 * at once; resolves when every started call settled. `fire` counts its own outcome.
 */
export async function fixedRateLoad(options: { rate: number; durationMs: number; maxInFlight: number; fire: (i: number) => Promise<void>; stop?: () => boolean }): Promise<LoadResult> {
  const { rate, durationMs, maxInFlight, fire, stop } = options;
  const begin = Date.now();
  const pending = new Set<Promise<void>>();
  let started = 0;
  let skipped = 0;
  while (Date.now() - begin < durationMs && !stop?.()) {
    // Catch up on the requests due by now, at most a quarter second's worth at once.
    const due = Math.min(Math.floor(((Date.now() - begin) * rate) / 1000) - started - skipped, Math.ceil(rate / 4));
    for (let k = 0; k < due; k++) {
      if (pending.size >= maxInFlight) {
        skipped++;
        continue;
      }
      const call = fire(started++).catch(() => undefined);
      pending.add(call);
      void call.finally(() => pending.delete(call));
    }
    await delay(5);
  }
  await Promise.all(pending);
  return { started, skipped };
}

function getText(url: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
  });
}

async function getJson<T>(url: string): Promise<T> {
  return JSON.parse(await getText(url)) as T;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
