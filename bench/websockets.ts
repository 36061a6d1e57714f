// `node --import tsx bench/websockets.ts`: 1,000 WebSockets (BENCH_WS_SOCKETS) through `burrow edge` and `burrow tunnel run`,
// each in its own process, to an echo origin; every socket echoes a message each second (BENCH_WS_RATE a second in all),
// for BENCH_WS_SECONDS. Prints the echo round trip's p50/p99 and the connector's and the edge's RSS.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { ADMIN_TOKEN, removeDir, tempDir } from '../test/helpers/harness.ts';
import { BurrowProcess, HOST, createTunnelToken, delay, loopbackListen, startLoadOrigin, waitReady, type ConnectorProcess, type EdgeProcess, type LoadOrigin } from '../test/helpers/process-world.ts';
import { freePort } from '../test/helpers/http.ts';

/** An edge and a connector in their own processes (access logs off: they are not what is measured), and an origin here. */
export interface BenchWorld {
  edge: EdgeProcess;
  connector: ConnectorProcess;
  origin: LoadOrigin;
  stop(): Promise<void>;
}

/**
 * `connectorNodeOptions` goes to the connector's NODE_OPTIONS (e.g. `--max-semi-space-size=4`), to compare V8
 * settings; BENCH_CONNECTOR_NODE_OPTIONS sets it from outside.
 */
export async function startBenchWorld(options: { haConnections?: number; connectorNodeOptions?: string } = {}): Promise<BenchWorld> {
  const dir = await tempDir('burrow-bench-');
  const origin = await startLoadOrigin();
  const listen = await loopbackListen();
  const edgeFile = path.join(dir, 'edge.json');
  await writeFile(edgeFile, JSON.stringify({ edge: { pop: 'bench', zones: ['example.test'], dataDir: path.join(dir, 'edge-data'), listen } }));
  const edgeProcess = new BurrowProcess('burrow edge', ['edge', '--config', edgeFile, '--log-level', 'warn'], { BURROW_EDGE_TOKEN: ADMIN_TOKEN });
  const edge = { process: edgeProcess, listen, visitors: `http://${listen.http}`, api: `http://${listen.api}` };
  const stopAll = async () => {
    connectorProcess?.kill();
    edgeProcess.kill();
    await origin.close();
    await removeDir(dir);
  };
  let connectorProcess: BurrowProcess | undefined;
  try {
    await waitHealthy(edge.api);
    const token = await createTunnelToken(edge, 'bench');
    const metrics = `127.0.0.1:${await freePort()}`;
    const haConnections = options.haConnections ?? 4;
    const file = path.join(dir, 'connector.json');
    await writeFile(file, JSON.stringify({ 'ha-connections': haConnections, metrics, ingress: [{ service: origin.url }] }));
    const nodeOptions = options.connectorNodeOptions ?? process.env.BENCH_CONNECTOR_NODE_OPTIONS;
    connectorProcess = new BurrowProcess('burrow tunnel run', ['tunnel', 'run', '--config', file, '--log-level', 'warn'], {
      BURROW_TUNNEL_TOKEN: token,
      BURROW_HOME: path.join(dir, 'connector-home'),
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    });
    const connector = { process: connectorProcess, metrics: `http://${metrics}` };
    await waitReady(connector, haConnections);
    return { edge, connector, origin, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function waitHealthy(api: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await delay(100)) {
    if ((await fetch(`${api}/healthz`).catch(() => undefined))?.ok) return;
  }
  throw new Error('the edge did not answer /healthz');
}

/** RSS (MB) and CPU time so far (s) of a process, from /proc. */
export async function processUsage(pid: number): Promise<{ rssMb: number; cpuSeconds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 a second on Linux).
  const line = await readFile(`/proc/${pid}/stat`, 'utf8');
  const stat = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return { rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024, cpuSeconds: (Number(stat[11]) + Number(stat[12])) / 100 };
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

async function main(): Promise<void> {
  const sockets = Number(process.env.BENCH_WS_SOCKETS ?? 1_000);
  const rate = Number(process.env.BENCH_WS_RATE ?? sockets);
  const seconds = Number(process.env.BENCH_WS_SECONDS ?? 20);
  const world = await startBenchWorld();
  const clients: WebSocket[] = [];
  try {
    const idle = { connector: await processUsage(world.connector.process.pid), edge: await processUsage(world.edge.process.pid) };
    const url = `${world.edge.visitors.replace(/^http/, 'ws')}/ws`;
    const opened = Date.now();
    // Opened 50 at a time: a thousand handshakes at once measures the accept queue, not the tunnel.
    for (let i = 0; i < sockets; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, sockets - i) }, () => {
          const ws = new WebSocket(url, { headers: { host: HOST }, perMessageDeflate: false });
          clients.push(ws);
          return new Promise<void>((resolve, reject) => {
            ws.once('open', () => resolve());
            ws.once('error', reject);
          });
        }),
      );
    }
    const openSeconds = (Date.now() - opened) / 1000;
    const sent = new Map<WebSocket, number[]>();
    const rtts: number[] = [];
    const trace: Array<[number, number]> = [];
    let lost = 0;
    for (const ws of clients) {
      sent.set(ws, []);
      ws.on('message', (data: Buffer) => {
        const at = Number(data.toString('utf8', 0, data.indexOf(' ')));
        const queue = sent.get(ws)!;
        if (queue[0] === at) queue.shift();
        rtts.push(performance.now() - at);
        if (process.env.BENCH_WS_TRACE) trace.push([at, performance.now() - at]);
      });
    }
    const payload = ' '.padEnd(64, 'x');
    const begin = performance.now();
    let fired = 0;
    let peak = { connector: 0, edge: 0 };
    let lastSample = 0;
    // A steady rate: round robin over the sockets, catching up on what is due every 5 ms.
    while (performance.now() - begin < seconds * 1000) {
      const due = Math.floor(((performance.now() - begin) * rate) / 1000) - fired;
      for (let k = 0; k < due; k++) {
        const ws = clients[fired++ % clients.length]!;
        const at = performance.now();
        sent.get(ws)!.push(at);
        ws.send(`${at}${payload}`);
      }
      if (performance.now() - lastSample > 1000) {
        lastSample = performance.now();
        const [connector, edge] = [await processUsage(world.connector.process.pid), await processUsage(world.edge.process.pid)];
        peak = { connector: Math.max(peak.connector, connector.rssMb), edge: Math.max(peak.edge, edge.rssMb) };
      }
      await delay(5);
    }
    await delay(1_000);
    for (const queue of sent.values()) lost += queue.length;
    if (process.env.BENCH_WS_TRACE) for (let t = 0; t < seconds; t++) { const w = trace.filter(([at]) => at - begin >= t * 1000 && at - begin < (t + 1) * 1000).map(([, r]) => r).sort((a, b) => a - b); console.log(`second ${t}: n ${w.length} p50 ${percentile(w, 50).toFixed(1)} p99 ${percentile(w, 99).toFixed(1)} max ${w.at(-1)?.toFixed(1)}`); }
    const sorted = rtts.sort((a, b) => a - b);
    const done = { connector: await processUsage(world.connector.process.pid), edge: await processUsage(world.edge.process.pid) };
    const cpu = (which: 'connector' | 'edge') => (done[which].cpuSeconds - idle[which].cpuSeconds).toFixed(1);
    console.log(`WebSocket echo through edge and connector (Node ${process.version}): ${clients.length} sockets opened in ${openSeconds.toFixed(1)} s, ${fired} messages at ${rate}/s for ${seconds} s, ${sorted.length} echoed, ${lost} unanswered`);
    console.log('| p50 | p99 | max | connector RSS idle / peak | edge RSS idle / peak | CPU connector / edge | goal |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(
      `| ${percentile(sorted, 50).toFixed(1)} ms | ${percentile(sorted, 99).toFixed(1)} ms | ${sorted.at(-1)?.toFixed(1)} ms | ${idle.connector.rssMb.toFixed(0)} / ${peak.connector.toFixed(0)} MB | ${idle.edge.rssMb.toFixed(0)} / ${peak.edge.toFixed(0)} MB | ${cpu('connector')} / ${cpu('edge')} s | p99 under 20 ms |`,
    );
  } finally {
    for (const ws of clients) ws.terminate();
    await world.stop();
  }
}

if (process.argv[1] === import.meta.filename) await main();
