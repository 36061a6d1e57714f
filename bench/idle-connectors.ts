// `node --import tsx bench/idle-connectors.ts`: what an idle connector costs an edge. One edge process; 1,000
// connectors (4 connections each, BENCH_CONNECTORS to change) started in a few worker processes; the edge's RSS
// before and after, per connector, and the floor under it (bare TLS + HTTP/2, BENCH_FLOOR=0 skips it). Then
// `burrow tunnel run`'s own RSS while it serves 1,000 req/s.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configSchema } from '../config/schema.ts';
import { Connector } from '../core/connector/connector.ts';
import type { TunnelCredentials } from '../core/connector/hooks.ts';
import { EdgeClient } from '../core/edge-client.ts';
import { silentLogger } from '../core/kernel/logger.ts';
import { BURROW_BIN } from '../test/helpers/cli.ts';
import { createTunnel, removeDir, tempDir, type TestEdge } from '../test/helpers/harness.ts';
import { freePort } from '../test/helpers/http.ts';

const TOKEN = 'bench-admin-token';

if (process.argv[2] === '--worker') await worker(process.argv[3]!, Number(process.argv[4]));
else if (process.argv[2] === '--floor-edge') await floorEdge(process.argv[3]!);
else if (process.argv[2] === '--floor-dialer') await floorDialer(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
else await main();

async function main(): Promise<void> {
  const total = Number(process.env.BENCH_CONNECTORS ?? 1_000);
  const workers = Number(process.env.BENCH_WORKERS ?? 4);
  const tunnels = Math.max(1, Math.ceil(total / 100));
  const dir = await tempDir('burrow-idle-');
  const [http, tunnel, api] = [await freePort(), await freePort(), await freePort()];
  const edgeConfig = path.join(dir, 'edge.json');
  await writeFile(edgeConfig, JSON.stringify({ edge: { pop: 'bench', dataDir: path.join(dir, 'data'), zones: ['example.test'], listen: { http: `127.0.0.1:${http}`, tunnel: `127.0.0.1:${tunnel}`, api: `127.0.0.1:${api}` } } }));
  // warn: the edge logs a line per registered connection at info, which is not what is measured here.
  const edge = spawn(process.execPath, [BURROW_BIN, 'edge', '--config', edgeConfig], { env: { ...process.env, BURROW_EDGE_TOKEN: TOKEN, BURROW_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
  const children: ChildProcess[] = [edge];
  try {
    const apiUrl = `http://127.0.0.1:${api}`;
    await until(async () => (await fetch(`${apiUrl}/healthz`).catch(() => undefined))?.ok === true, 30_000, 'the edge');
    const testEdge = { api: apiUrl, admin: new EdgeClient(apiUrl, TOKEN) } as unknown as TestEdge;
    const credentials: TunnelCredentials[] = [];
    for (let i = 0; i < tunnels; i++) credentials.push({ ...(await createTunnel(testEdge, `idle-${i}`, [`idle-${i}.example.test`])), edge: `127.0.0.1:${tunnel}` });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = await rssKb(edge.pid!);
    const heapBefore = await edgeHeap(apiUrl);

    const perWorker = Math.ceil(total / workers);
    const file = path.join(dir, 'credentials.json');
    await writeFile(file, JSON.stringify(credentials));
    const started = Date.now();
    const ready = await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const count = Math.min(perWorker, total - w * perWorker);
        const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--worker', file, String(count), String(w)], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        return new Promise<number>((resolve, reject) => {
          child.stdout!.setEncoding('utf8').on('data', (text: string) => {
            const match = /ready (\d+)/.exec(text);
            if (match) resolve(Number(match[1]));
          });
          child.once('exit', (code) => reject(new Error(`worker ${w} exited ${code}`)));
        });
      }),
    );
    const connectors = ready.reduce((a, b) => a + b, 0);
    const startSeconds = (Date.now() - started) / 1000;
    const listed = await testEdge.admin.request<{ tunnels: Array<{ connections?: unknown[] }> }>('GET', '/v1/tunnels');
    const connections = listed.tunnels.reduce((n, t) => n + (t.connections?.length ?? 0), 0);
    // Let the edge settle (TLS buffers, heartbeats) before reading its RSS.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = await rssKb(edge.pid!);
    const heapAfter = await edgeHeap(apiUrl);
    const per = (after - before) / connectors;
    console.log(`Idle connectors on one edge (Node ${process.version}): ${connectors} connectors, ${connections} connections registered, started in ${startSeconds.toFixed(1)} s`);
    console.log('| edge RSS before | edge RSS after | per connector (4 connections) | goal |');
    console.log('|---|---|---|---|');
    console.log(`| ${(before / 1024).toFixed(0)} MB | ${(after / 1024).toFixed(0)} MB | ${per.toFixed(0)} KB | under 100 KB |`);
    const perHeap = (key: keyof typeof heapAfter) => ((heapAfter[key] - heapBefore[key]) / 1024 / connectors).toFixed(0);
    console.log(`Of which, per connector: JavaScript heap in use ${perHeap('heapUsed')} KB, external ${perHeap('external')} KB; the rest is native (OpenSSL, nghttp2, socket buffers) and heap pages not in use.`);
    if (process.env.BENCH_FLOOR !== '0') await floor(dir, connections, workers, per);
  } finally {
    for (const child of children.reverse()) child.kill('SIGKILL');
    await removeDir(dir);
  }
  await busyConnector();
}

/**
 * `burrow tunnel run` in its own process, as a user runs it, serving a steady 1,000 req/s (BENCH_BUSY_RATE) for
 * BENCH_BUSY_SECONDS: its RSS idle and at most, and its CPU time. BENCH_CONNECTOR_NODE_OPTIONS passes V8 flags to it.
 */
async function busyConnector(): Promise<void> {
  const { startBenchWorld, processUsage } = await import('./websockets.ts');
  const { fixedRateLoad, HOST } = await import('../test/helpers/process-world.ts');
  const { request, Agent } = await import('undici');
  const world = await startBenchWorld();
  const agent = new Agent({ connections: 32 });
  try {
    const pid = world.connector.process.pid;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idle = await processUsage(pid);
    const rate = Number(process.env.BENCH_BUSY_RATE ?? 1_000);
    const seconds = Number(process.env.BENCH_BUSY_SECONDS ?? 20);
    let failed = 0;
    let peak = idle.rssMb;
    const sampler = setInterval(() => void processUsage(pid).then((usage) => (peak = Math.max(peak, usage.rssMb)), () => undefined), 500);
    const startedAt = Date.now();
    const load = await fixedRateLoad({
      rate,
      durationMs: seconds * 1000,
      maxInFlight: 256,
      fire: async (i) => {
        const answer = await request(`${world.edge.visitors}/get/${i}`, { headers: { host: HOST }, dispatcher: agent }).catch(() => undefined);
        if (answer?.statusCode !== 200) failed++;
        await answer?.body.text();
      },
    });
    clearInterval(sampler);
    const done = await processUsage(pid);
    const served = load.started / ((Date.now() - startedAt) / 1000);
    const nodeOptions = process.env.BENCH_CONNECTOR_NODE_OPTIONS ? ` (NODE_OPTIONS ${process.env.BENCH_CONNECTOR_NODE_OPTIONS})` : '';
    console.log(`\nburrow tunnel run${nodeOptions} at ${served.toFixed(0)} req/s for ${seconds} s (${failed} failed, ${load.skipped} not sent: 256 in flight)`);
    console.log('| RSS idle | RSS at most | CPU per request | goal |');
    console.log('|---|---|---|---|');
    console.log(`| ${idle.rssMb.toFixed(0)} MB | ${Math.max(peak, done.rssMb).toFixed(0)} MB | ${(((done.cpuSeconds - idle.cpuSeconds) * 1e6) / Math.max(1, load.started)).toFixed(0)} µs | under 80 MB |`);
  } finally {
    await agent.close();
    await world.stop();
  }
}

/** A worker process: `count` connectors over the tunnels in `file`, idle (or serving `origin`) until killed. */
async function worker(file: string, count: number): Promise<void> {
  const all = JSON.parse(await readFile(file, 'utf8')) as TunnelCredentials[];
  const config = configSchema.parse({ 'ha-connections': 4, ingress: [{ service: 'http_status:204' }] });
  const index = Number(process.argv[5]) || 0;
  const connectors: Connector[] = [];
  for (let i = 0; i < count; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
        const connector = new Connector({ config, credentials: all[(index * count + i + j) % all.length]!, log: silentLogger });
        connectors.push(connector);
        await connector.start();
      }),
    );
  }
  process.stdout.write(`ready ${connectors.length}\n`);
  setInterval(() => undefined, 1 << 30);
}

/** The edge's heap in use and external memory (bytes), from its Prometheus process metrics. */
async function edgeHeap(apiUrl: string): Promise<{ heapUsed: number; external: number }> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^burrow_edge_nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { heapUsed: read('heap_size_used_bytes'), external: read('external_memory_bytes') };
}

/**
 * The floor under the edge's number: `connections` bare TLS 1.3 sockets with mutual authentication, each with the
 * edge's HTTP/2 client session (Burrow's settings), one open control stream and a ping every 5 s, and nothing of
 * Burrow's. What an idle connector costs above 4 of these is Burrow's own.
 */
async function floor(dir: string, connections: number, workers: number, burrowPerConnector: number): Promise<void> {
  const { createCertificateAuthority, issueServerCertificate, createKeyAndCsr, signZoneCertificate } = await import('../plugins/origin-ca/ca.ts');
  const { EDGE_SERVER_NAME } = await import('../core/transport/protocol.ts');
  const ca = await createCertificateAuthority({ commonName: 'floor' });
  const server = await issueServerCertificate(ca, { commonName: EDGE_SERVER_NAME, dnsNames: [EDGE_SERVER_NAME] });
  const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
  const client = await signZoneCertificate(ca, csrPem, { zones: ['example.test'] });
  const port = await freePort();
  const file = path.join(dir, 'floor.json');
  await writeFile(file, JSON.stringify({ port, ca: ca.certPem, server, client: { certPem: client.certPem, keyPem } }));
  const children: ChildProcess[] = [];
  const started = (child: ChildProcess, word: string) =>
    new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (text: string) => text.includes(word) && resolve());
      child.once('exit', (code) => reject(new Error(`floor process exited ${code}`)));
    });
  try {
    const edge = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--floor-edge', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(edge);
    await started(edge, 'listening');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = await rssKb(edge.pid!);
    const perWorker = Math.ceil(connections / workers);
    await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--floor-dialer', file, String(Math.min(perWorker, connections - w * perWorker)), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        return started(child, 'ready');
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const perConnection = ((await rssKb(edge.pid!)) - before) / connections;
    console.log(`Floor (bare TLS 1.3 + HTTP/2 session per connection, no Burrow, same run): ${perConnection.toFixed(0)} KB per connection, ${(perConnection * 4).toFixed(0)} KB per 4; Burrow above it: ${(burrowPerConnector - perConnection * 4).toFixed(0)} KB per connector`);
  } finally {
    for (const child of children.reverse()) child.kill('SIGKILL');
  }
}

async function floorEdge(file: string): Promise<void> {
  const { port, ca, server } = JSON.parse(await readFile(file, 'utf8')) as { port: number; ca: string; server: { keyPem: string; certPem: string } };
  const tls = await import('node:tls');
  const http2 = await import('node:http2');
  const { http2SessionOptions, SESSION_WINDOW } = await import('../core/transport/protocol.ts');
  const sessions = new Set<import('node:http2').ClientHttp2Session>();
  const listener = tls.createServer({ key: server.keyPem, cert: server.certPem, ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' }, (socket) => {
    const session = http2.connect('http://connector.burrow.internal', { ...http2SessionOptions, createConnection: () => socket });
    sessions.add(session);
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    session.on('error', () => undefined);
    session.once('close', () => sessions.delete(session));
    const control = session.request({ ':method': 'POST', ':path': '/control' }, { endStream: false });
    control.on('error', () => undefined).resume();
  });
  setInterval(() => {
    for (const session of sessions) if (!session.destroyed) session.ping(() => undefined);
  }, 5_000);
  listener.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
}

async function floorDialer(file: string, count: number, port: number): Promise<void> {
  const { ca, client } = JSON.parse(await readFile(file, 'utf8')) as { ca: string; client: { keyPem: string; certPem: string } };
  const tls = await import('node:tls');
  const http2 = await import('node:http2');
  const { http2SessionOptions, EDGE_SERVER_NAME } = await import('../core/transport/protocol.ts');
  const dial = () =>
    new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: EDGE_SERVER_NAME, ca, cert: client.certPem, key: client.keyPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' }, () => {
        const server = http2.createServer(http2SessionOptions);
        server.on('stream', (stream) => {
          stream.respond({ ':status': 200 });
          stream.write('{}\n');
          resolve();
        });
        server.emit('connection', socket);
      });
      socket.once('error', reject);
    });
  for (let i = 0; i < count; i += 40) await Promise.all(Array.from({ length: Math.min(40, count - i) }, dial));
  process.stdout.write('ready\n');
  setInterval(() => undefined, 1 << 30);
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}
