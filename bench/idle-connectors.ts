// `node --import tsx bench/idle-connectors.ts`: what an idle connector costs an edge. One edge process; 1,000
// connectors (4 connections each, BENCH_CONNECTORS to change) started in a few worker processes; the edge's RSS
// before and after, per connector. Then one connector's own RSS while it serves 1,000 req/s.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configSchema } from '../config/schema.ts';
import { Connector } from '../core/connector/connector.ts';
import type { TunnelCredentials } from '../core/connector/hooks.ts';
import { EdgeClient } from '../core/edge-client.ts';
import { silentLogger } from '../core/kernel/logger.ts';
import { BURROW_BIN } from '../test/helpers/cli.ts';
import { createTunnel, removeDir, startOrigin, tempDir, type TestEdge } from '../test/helpers/harness.ts';
import { freePort } from '../test/helpers/http.ts';

const TOKEN = 'bench-admin-token';

if (process.argv[2] === '--worker') await worker(process.argv[3]!, Number(process.argv[4]));
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
    const per = (after - before) / connectors;
    console.log(`Idle connectors on one edge (Node ${process.version}): ${connectors} connectors, ${connections} connections registered, started in ${startSeconds.toFixed(1)} s`);
    console.log('| edge RSS before | edge RSS after | per connector (4 connections) | goal |');
    console.log('|---|---|---|---|');
    console.log(`| ${(before / 1024).toFixed(0)} MB | ${(after / 1024).toFixed(0)} MB | ${per.toFixed(0)} KB | under 100 KB |`);
  } finally {
    for (const child of children.reverse()) child.kill('SIGKILL');
    await removeDir(dir);
  }
  await busyConnector();
}

/** One connector serving a steady 1,000 req/s: its RSS after 20 s. */
async function busyConnector(): Promise<void> {
  const { startEdge } = await import('../test/helpers/harness.ts');
  const origin = await startOrigin((_req, res) => res.end('ok'));
  const edge = await startEdge();
  const credentials = await createTunnel(edge, 'busy', ['busy.example.test']);
  const file = path.join(await tempDir('burrow-busy-'), 'credentials.json');
  await writeFile(file, JSON.stringify([credentials]));
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--worker', file, '1', 'busy', origin.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.setEncoding('utf8').on('data', (text: string) => /ready/.test(text) && resolve()));
  const { request, Agent } = await import('undici');
  const agent = new Agent({ connections: 16 });
  const seconds = Number(process.env.BENCH_BUSY_SECONDS ?? 20);
  let sent = 0;
  let failed = 0;
  const startedAt = Date.now();
  const samples: number[] = [];
  while (Date.now() - startedAt < seconds * 1000) {
    const tick = Date.now();
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        sent++;
        const answer = await request(`${edge.url}/`, { headers: { host: 'busy.example.test' }, dispatcher: agent }).catch(() => undefined);
        if (answer?.statusCode !== 200) failed++;
        await answer?.body.text();
      }),
    );
    // 100 requests per 100 ms: 1,000 req/s.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - tick))));
    if (samples.length < Math.floor((Date.now() - startedAt) / 1000)) samples.push(await rssKb(child.pid!));
  }
  const rate = sent / ((Date.now() - startedAt) / 1000);
  console.log(`\nOne connector at ${rate.toFixed(0)} req/s for ${seconds} s (${failed} failed): RSS ${(samples[0]! / 1024).toFixed(0)} MB after 1 s, ${(Math.max(...samples) / 1024).toFixed(0)} MB at most (goal: under 80 MB)`);
  child.kill('SIGKILL');
  await agent.close();
  await edge.stop();
  await origin.close();
}

/** A worker process: `count` connectors over the tunnels in `file`, idle (or serving `origin`) until killed. */
async function worker(file: string, count: number): Promise<void> {
  const all = JSON.parse(await readFile(file, 'utf8')) as TunnelCredentials[];
  const origin = process.argv[6];
  const config = configSchema.parse({ 'ha-connections': 4, ingress: [{ service: origin ?? 'http_status:204' }] });
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

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}
