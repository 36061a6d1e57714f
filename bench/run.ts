// `npm run bench`: load through Burrow (edge and connector in their own processes) versus the origin directly.
import http from 'node:http';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import send from 'send';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';

interface Result { rps: number; p50: number; p99: number; mibps: number; errors: number }
interface Target { name: 'direct' | 'burrow'; base: string; host?: string }

const HOST = 'app.bench.test';
const STATIC_HOST = 'files.bench.test';
const STATIC_FILE = '1m.bin';
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = 3;
/** Which targets and loads to run, e.g. BENCH_TARGETS=burrow BENCH_LOADS="GET /" while profiling (BENCH_WS_DURATION=0 skips the WebSocket rows). */
const TARGETS = (process.env.BENCH_TARGETS ?? 'direct,burrow').split(',');
const LOADS = (process.env.BENCH_LOADS ?? 'GET /,GET /1m,100m,static,network').split(',');
/** Extra node flags for the edge and the connector, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const WS_SOCKETS = 1000;
const WS_DURATION = Number(process.env.BENCH_WS_DURATION ?? 5);
const root = fileURLToPath(new URL('..', import.meta.url));
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
const cpuPerRequest = new Map<string, number>();
const children = new Map<string, ChildProcess>();
const helpers = new Set<ChildProcess>();
let work = '';
let stopping = false;

if (process.argv[2] === '--origin') startOrigin();
else await main();

/** The origin, in its own process: GET / -> "hello", GET /1m -> 1 MiB of random bytes, GET /100m -> 100 MiB (the 1 MiB
 * 100 times), POST /echo -> the body, POST /sink -> the number of body bytes it read,
 * WebSocket echo, GET /static/... -> files of $BENCH_STATIC_DIR served with `send` (the direct side of the static-files section). */
function startOrigin(): void {
  const small = Buffer.from('hello');
  const big = randomBytes(1 << 20);
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') res.writeHead(200, { 'content-type': 'text/plain', 'content-length': small.length }).end(small);
    else if (req.method === 'GET' && req.url === '/1m') res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length }).end(big);
    else if (req.method === 'POST' && req.url === '/echo') req.pipe(res.writeHead(200, { 'content-type': 'application/octet-stream' }));
    else if (req.method === 'GET' && req.url === '/100m') sendRepeated(res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 100 * big.length }), big, 100);
    else if (req.method === 'POST' && req.url === '/sink') {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.once('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(String(bytes)));
    }
    else if (req.method === 'GET' && req.url?.startsWith('/static/')) send(req, req.url.slice('/static'.length), { root: process.env.BENCH_STATIC_DIR! }).pipe(res);
    else res.writeHead(404, { 'content-length': 0 }).end();
  });
  server.keepAliveTimeout = 65_000;
  const sockets = new WebSocketServer({ server, perMessageDeflate: false });
  sockets.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.listen(0, '127.0.0.1', () => console.log(`origin ready ${JSON.stringify(server.address())}`));
}

/** Writes `chunk` `times` times, waiting for the socket to drain whenever it is full. */
function sendRepeated(res: http.ServerResponse, chunk: Buffer, times: number): void {
  let left = times;
  const more = (): void => {
    while (left > 0) {
      left--;
      if (left === 0) return void res.end(chunk);
      if (!res.write(chunk)) return void res.once('drain', more);
    }
  };
  more();
}

async function main(): Promise<void> {
  work = mkdtempSync(path.join(os.tmpdir(), 'burrow-bench-'));
  process.once('exit', () => {
    for (const child of [...helpers, ...children.values()]) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  });
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().finally(() => process.exit(143)));
  // BENCH_ACCESS_LOG=0: the edge and the connector without their access-log lines, to see what they cost.
  const ACCESS_LOG_OFF = process.env.BENCH_ACCESS_LOG === '0' ? ['plugins:', '  - { use: access-log, enabled: false }', ''] : [''];
  const tool = process.env.BENCH_TOOL ?? (spawnSync('wrk', ['--version']).error ? 'autocannon' : 'wrk');
  console.log(`Burrow bench: ${DURATION} s per load after a ${WARMUP} s warm-up, with ${tool}`);

  const staticDir = writeStaticFiles();
  start('origin', ['--import', 'tsx', fileURLToPath(import.meta.url), '--origin'], { BENCH_STATIC_DIR: staticDir });
  const { port } = JSON.parse((await readyLine('origin', 'origin ready')).slice('origin ready '.length)) as { port: number };
  const direct: Target = { name: 'direct', base: `http://127.0.0.1:${port}` };

  // Edge and connector as a user runs them: an edge config file, login, create, route, then `tunnel run`.
  const token = randomBytes(18).toString('base64url');
  const home = path.join(work, 'home');
  writeFileSync(path.join(work, 'edge.yaml'), [
    'edge:', '  pop: bench', '  listen: { http: "127.0.0.1:0", tunnel: "127.0.0.1:0", api: "127.0.0.1:0" }',
    `  dataDir: ${path.join(work, 'edge-data')}`, '  zones: [bench.test]', ...ACCESS_LOG_OFF].join('\n'));
  start('edge', [...NODE_ARGS, 'bin/burrow', 'edge', '--config', path.join(work, 'edge.yaml')], { BURROW_EDGE_TOKEN: token, BURROW_LOG_LEVEL: 'info' });
  const edge = JSON.parse(await readyLine('edge', '"edge ready"')) as { http: string; api: string };
  const cli = (...args: string[]) => run(process.execPath, ['bin/burrow', ...args], { BURROW_HOME: home }, 30);
  await cli('login', '--edge', `http://${edge.api}`, '--token', token);
  const id = /with id ([0-9a-f-]{36})/.exec(await cli('tunnel', 'create', 'bench'))?.[1];
  if (!id) throw new Error('`burrow tunnel create` printed no tunnel id');
  await cli('tunnel', 'route', 'dns', 'bench', HOST);
  await cli('tunnel', 'route', 'dns', 'bench', STATIC_HOST);
  writeFileSync(path.join(work, 'config.yml'), [
    'tunnel: bench', `credentials-file: ${path.join(home, `${id}.json`)}`, 'ingress:',
    `  - hostname: ${HOST}`, `    service: ${direct.base}`,
    `  - hostname: ${STATIC_HOST}`, `    service: file://${staticDir}`, '  - service: http_status:404', ...ACCESS_LOG_OFF].join('\n'));
  start('connector', [...NODE_ARGS, 'bin/burrow', 'tunnel', 'run', '--config', path.join(work, 'config.yml')], { BURROW_HOME: home });
  const burrow: Target = { name: 'burrow', base: `http://${edge.http}`, host: HOST };
  await until(async () => (await call(burrow, 'GET', '/')).status === 200, 'the tunnel to answer');

  for (const target of [direct, burrow]) {
    const body = randomBytes(256 * 1024);
    const echo = await call(target, 'POST', '/echo', body);
    if (echo.status !== 200 || !echo.body.equals(body)) throw new Error(`${target.name}: POST /echo did not return the body (status ${echo.status})`);
  }

  const results = new Map<string, Result>();
  for (const [label, pathname, connections] of [['GET /', '/', 50], ['GET /1m', '/1m', 10]] as const) {
    for (const target of [direct, burrow]) {
      if (!TARGETS.includes(target.name) || !LOADS.includes(label)) continue;
      process.stdout.write(`  ${target.name} ${label} with ${connections} connections ...`);
      await load(tool, target, pathname, connections, WARMUP);
      const cpuBefore = target.name === 'burrow' ? cpuTimes() : undefined;
      const result = await load(tool, target, pathname, connections, DURATION);
      if (cpuBefore) {
        const requests = result.rps * DURATION;
        const after = cpuTimes();
        for (const name of ['edge', 'connector'] as const) cpuPerRequest.set(`${name} ${label}`, ((after[name] - cpuBefore[name]) * 1e6) / requests);
      }
      results.set(`${target.name} ${label}`, result);
      process.stdout.write(' done\n');
    }
  }
  for (const target of [direct, burrow]) {
    if (!TARGETS.includes(target.name) || WS_DURATION <= 0) continue;
    process.stdout.write(`  ${target.name} WebSocket echo with ${WS_SOCKETS} sockets ...`);
    results.set(`${target.name} WS echo`, await wsEcho(target, WS_SOCKETS, WS_DURATION));
    process.stdout.write(' done\n');
  }
  report(results, [['edge', memory('edge')], ['connector', memory('connector')]]);
  for (const [key, micros] of cpuPerRequest) console.log(`${`${key} CPU per request:`.padEnd(30)} ${micros.toFixed(0)} µs`);
  if (LOADS.includes('100m')) await singleTransferSection(direct, burrow);
  if (LOADS.includes('static')) await staticFilesSection(tool, direct.base, burrow.base);
  if (LOADS.includes('network')) await networkSection(tool, direct.base);
  await stopAll();
}

/** Starts a child with stdout and stderr in `<work>/<name>.log`; any early exit ends the bench. */
function start(name: string, args: string[], env: Record<string, string> = {}): void {
  const log = openSync(path.join(work, `${name}.log`), 'a');
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`\n${name} exited early (${signal ?? code}). Its log:\n${readLog(name).slice(-3000)}`);
    process.exit(1);
  });
  children.set(name, child);
}

/** Runs a short-lived command (CLI, wrk) without blocking signals; its stdout, or an error with its stderr. */
function run(command: string, args: string[], env: Record<string, string>, timeoutSeconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd: root, env: { ...process.env, ...env }, timeout: timeoutSeconds * 1000 }, (error, stdout, stderr) => {
      helpers.delete(child);
      if (!error) resolve(stdout);
      // Killed by stopAll(): the bench is exiting anyway, so stay quiet.
      else if (!stopping) reject(new Error(`${path.basename(command)} ${args.join(' ')} failed: ${stderr || error.message}`));
    });
    helpers.add(child);
  });
}

function readLog(name: string): string {
  return readFileSync(path.join(work, `${name}.log`), 'utf8');
}

async function readyLine(name: string, marker: string): Promise<string> {
  let line: string | undefined;
  await until(() => (line = readLog(name).split('\n').find((l) => l.includes(marker))) !== undefined, `${name} to start`);
  return line!;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
  }
  throw new Error(`timed out waiting for ${what} (run with BENCH_KEEP=1 to keep the logs in ${work})`);
}

function call(target: Target, method: string, pathname: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${target.base}${pathname}`, { method, headers: target.host ? { host: target.host } : {}, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

async function load(tool: string, target: Target, pathname: string, connections: number, seconds: number): Promise<Result> {
  const url = `${target.base}${pathname}`;
  if (tool === 'wrk') {
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...(target.host ? ['-H', `Host: ${target.host}`] : []), url];
    const out = await run('wrk', args, {}, seconds + 30);
    const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).map(Number) ?? [];
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      p50: wrkMs(/50%\s+([\d.]+\w+)/.exec(out)?.[1]),
      p99: wrkMs(/99%\s+([\d.]+\w+)/.exec(out)?.[1]),
      mibps: wrkMiB(/Transfer\/sec:\s+([\d.]+\w*)/.exec(out)?.[1]),
      errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + socketErrors.reduce((a, b) => a + b, 0),
    };
  }
  // autocannon ships no types; only the fields read here are declared.
  type Cannon = (o: object) => Promise<{ requests: { average: number }; latency: { p50: number; p99: number }; throughput: { average: number }; errors: number; timeouts: number; non2xx: number }>;
  const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;
  const r = await autocannon({ url, connections, duration: seconds, headers: target.host ? { host: target.host } : {} });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, mibps: r.throughput.average / 2 ** 20, errors: r.errors + r.timeouts + r.non2xx };
}

/**
 * WebSocket echo: `sockets` connections each keep one 32-byte message in flight for `seconds`
 * (after a 1 s warm-up on the same sockets); round trips per second and their latency.
 */
async function wsEcho(target: Target, sockets: number, seconds: number): Promise<Result> {
  const url = `${target.base.replace(/^http/, 'ws')}/ws`;
  const connect = () =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: target.host ? { host: target.host } : {}, perMessageDeflate: false, handshakeTimeout: 30_000 });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  const clients: WebSocket[] = [];
  // Opened 100 at a time so the accept queue is not what gets measured.
  while (clients.length < sockets) clients.push(...(await Promise.all(Array.from({ length: Math.min(100, sockets - clients.length) }, connect))));
  const payload = Buffer.alloc(32, 'x');
  let errors = 0;
  const run = async (ms: number, latencies?: number[]) => {
    const stopAt = performance.now() + ms;
    await Promise.all(clients.map((ws) => new Promise<void>((resolve) => {
      let sentAt = 0;
      const send = () => {
        if (performance.now() >= stopAt || ws.readyState !== WebSocket.OPEN) return finish();
        sentAt = performance.now();
        ws.send(payload);
      };
      const onMessage = () => {
        latencies?.push(performance.now() - sentAt);
        send();
      };
      const onClose = () => {
        errors++;
        finish();
      };
      const finish = () => {
        ws.off('message', onMessage).off('close', onClose);
        resolve();
      };
      ws.on('message', onMessage).on('close', onClose);
      send();
    })));
  };
  await run(1_000);
  const latencies: number[] = [];
  const started = performance.now();
  await run(seconds * 1000, latencies);
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((ws) => new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close(1000);
  })));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), mibps: (latencies.length * payload.length * 2) / elapsed / 2 ** 20, errors };
}

/** wrk prints latencies as 812.00us, 1.20ms, 2.01s or 1.00m. */
function wrkMs(text = 'NaNms'): number {
  const [, value = 'NaN', unit = 'ms'] = /([\d.]+)(\w+)/.exec(text) ?? [];
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);
}

/** wrk prints transfer rates in binary units: 512.00B, 420.12KB, 1.02GB. */
function wrkMiB(text = 'NaNB'): number {
  const [, value = 'NaN', unit = ''] = /([\d.]+)([KMGT]?)B/.exec(text) ?? [];
  return (Number(value) * 1024 ** 'BKMGT'.indexOf(unit || 'B')) / 2 ** 20;
}


/** CPU seconds (user + system) the edge and the connector have used so far, from /proc (Linux). */
function cpuTimes(): { edge: number; connector: number } {
  const seconds = (name: string) => {
    try {
      const fields = readFileSync(`/proc/${children.get(name)!.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return NaN;
    }
  };
  return { edge: seconds('edge'), connector: seconds('connector') };
}

/** Resident memory now and at its peak, from /proc (Linux). */
function memory(name: string): string {
  try {
    const status = readFileSync(`/proc/${children.get(name)!.pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024;
    return `${kib('VmRSS').toFixed(1)} MiB (peak ${kib('VmHWM').toFixed(1)} MiB)`;
  } catch {
    return 'n/a';
  }
}

function report(results: Map<string, Result>, memories: Array<[string, string]>): void {
  const rows: Array<[string, string, keyof Result, number]> = [
    ['GET / req/s (50 conns)', 'GET /', 'rps', 0],
    ['GET / p50 ms', 'GET /', 'p50', 2],
    ['GET / p99 ms', 'GET /', 'p99', 2],
    ['GET / errors', 'GET /', 'errors', 0],
    ['GET /1m MiB/s (10 conns)', 'GET /1m', 'mibps', 1],
    ['GET /1m p99 ms', 'GET /1m', 'p99', 2],
    ['GET /1m errors', 'GET /1m', 'errors', 0],
    [`WS echo round trips/s (${WS_SOCKETS} sockets)`, 'WS echo', 'rps', 0],
    ['WS echo p50 ms', 'WS echo', 'p50', 2],
    ['WS echo p99 ms', 'WS echo', 'p99', 2],
    ['WS echo errors', 'WS echo', 'errors', 0],
  ];
  const table = [['', 'direct', 'burrow', 'burrow/direct']];
  for (const [label, load, field, digits] of rows) {
    const d = results.get(`direct ${load}`)?.[field] ?? NaN;
    const b = results.get(`burrow ${load}`)?.[field] ?? NaN;
    table.push([label, d.toFixed(digits), b.toFixed(digits), field === 'errors' ? '' : d > 0 ? `${(b / d).toFixed(2)}x` : '-']);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  console.log();
  for (const row of table) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   '));
  console.log();
  for (const [name, value] of memories) console.log(`${`${name} RSS after the run:`.padEnd(30)} ${value}`);
}

/**
 * One 100 MiB download (GET /100m) and one 100 MiB upload (POST /sink) at a time, with curl (or node's http client
 * without it): MiB/s, and for Burrow the CPU time the edge and the connector spent per MiB.
 */
async function singleTransferSection(direct: Target, burrow: Target): Promise<void> {
  const size = 100 * 2 ** 20;
  const file = path.join(work, '100m.bin');
  writeFileSync(file, Buffer.concat(Array.from({ length: 100 }, () => randomBytes(2 ** 20))));
  const curl = !spawnSync('curl', ['--version']).error;
  const transfer = async (target: Target, up: boolean): Promise<number> => {
    const started = performance.now();
    if (curl) {
      const args = ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{size_upload}', ...(target.host ? ['-H', `Host: ${target.host}`] : [])];
      const out = await run('curl', up ? [...args, '-X', 'POST', '-T', file, `${target.base}/sink`] : [...args, `${target.base}/100m`], {}, 120);
      const [down, sent] = out.trim().split(' ').map(Number);
      if ((up ? sent : down) !== size) throw new Error(`${target.name}: the 100 MiB ${up ? 'upload' : 'download'} moved ${up ? sent : down} bytes`);
    } else {
      const answer = await call(target, up ? 'POST' : 'GET', up ? '/sink' : '/100m', up ? readFileSync(file) : undefined);
      if ((up ? Number(answer.body.toString()) : answer.body.length) !== size) throw new Error(`${target.name}: the 100 MiB ${up ? 'upload' : 'download'} came out short`);
    }
    return size / 2 ** 20 / ((performance.now() - started) / 1000);
  };
  console.log(`\nOne 100 MiB transfer at a time (best of 3, with ${curl ? 'curl' : "node's http client"}):`);
  const rows = [['', 'direct MiB/s', 'burrow MiB/s', 'burrow/direct', 'edge CPU ms/MiB', 'connector CPU ms/MiB']];
  for (const up of [false, true]) {
    const best = { direct: 0, burrow: 0 };
    let cpu = { edge: Infinity, connector: Infinity };
    for (const target of [direct, burrow]) {
      for (let i = 0; i < 3; i++) {
        const before = cpuTimes();
        best[target.name] = Math.max(best[target.name], await transfer(target, up));
        const after = cpuTimes();
        if (target.name === 'burrow') {
          const edge = ((after.edge - before.edge) * 1000) / 100;
          const connector = ((after.connector - before.connector) * 1000) / 100;
          if (edge + connector < cpu.edge + cpu.connector) cpu = { edge, connector };
        }
      }
    }
    rows.push([up ? '100 MiB upload' : '100 MiB download', best.direct.toFixed(0), best.burrow.toFixed(0), `${(best.burrow / best.direct).toFixed(2)}x`, cpu.edge.toFixed(2), cpu.connector.toFixed(2)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log();
  for (const row of rows) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   '));
}

/** The folder the static-files section serves: one 1 MiB file of random bytes. */
function writeStaticFiles(): string {
  const dir = path.join(work, 'static');
  mkdirSync(dir);
  writeFileSync(path.join(dir, STATIC_FILE), randomBytes(1 << 20));
  return dir;
}

/** Static files: the 1 MiB file through Burrow's file:// origin versus the same file served by `send` directly. */
async function staticFilesSection(tool: string, directBase: string, burrowBase: string): Promise<void> {
  const cases: Array<[Target, string]> = [
    [{ name: 'direct', base: directBase }, `/static/${STATIC_FILE}`],
    [{ name: 'burrow', base: burrowBase, host: STATIC_HOST }, `/${STATIC_FILE}`],
  ];
  const expected = readFileSync(path.join(work, 'static', STATIC_FILE));
  const results = new Map<string, Result>();
  console.log('\nStatic files (file://), 1 MiB file, 10 connections:');
  for (const [target, pathname] of cases) {
    const answer = await call(target, 'GET', pathname);
    if (answer.status !== 200 || !answer.body.equals(expected)) throw new Error(`${target.name}: GET ${pathname} did not return the file (status ${answer.status})`);
    process.stdout.write(`  ${target.name} GET ${pathname} ...`);
    await load(tool, target, pathname, 10, WARMUP);
    results.set(target.name, await load(tool, target, pathname, 10, DURATION));
    process.stdout.write(' done\n');
  }
  const d = results.get('direct')!;
  const b = results.get('burrow')!;
  const table = [
    ['', 'direct', 'burrow', 'burrow/direct'],
    ['static 1 MiB MiB/s', d.mibps.toFixed(1), b.mibps.toFixed(1), d.mibps > 0 ? `${(b.mibps / d.mibps).toFixed(2)}x` : '-'],
    ['static 1 MiB p99 ms', d.p99.toFixed(2), b.p99.toFixed(2), d.p99 > 0 ? `${(b.p99 / d.p99).toFixed(2)}x` : '-'],
    ['static 1 MiB errors', String(d.errors), String(b.errors), ''],
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  console.log();
  for (const row of table) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   '));
}

/**
 * A network of four PoPs (`burrow network dev`, all PoPs in one process) in a chain a-b-c-d with no added delay on
 * the chain and 50 ms on every other pair, so a request at a takes 3 hops; a quick tunnel at d. Requests land at d
 * (0 hops), c (1 hop) and a (3 hops).
 */
async function networkSection(tool: string, originBase: string): Promise<void> {
  const latency = path.join(work, 'chain.yaml');
  writeFileSync(latency, ['a-c: 50ms', 'a-d: 50ms', 'b-d: 50ms', ''].join('\n'));
  start('network', [...NODE_ARGS, 'bin/burrow', 'network', 'dev', '--pops', 'a,b,c,d', '--latency', latency], { BURROW_LOG_LEVEL: 'warn' });
  await readyLine('network', 'Dev network ready');
  const pops = new Map<string, { http: string; api: string }>();
  for (const line of readLog('network').split('\n')) {
    const row = /^([a-z]+)\s+http:\/\/<name>\.localhost:(\d+)\/\s+http:\/\/(\S+)/.exec(line);
    if (row) pops.set(row[1]!, { http: `127.0.0.1:${row[2]}`, api: row[3]! });
  }
  if (pops.size !== 4) throw new Error(`\`burrow network dev\` printed ${pops.size} PoPs, expected 4`);
  start('quick', [...NODE_ARGS, 'bin/burrow', 'tunnel', '--url', originBase, '--edge', `http://${pops.get('d')!.api}`]);
  await readyLine('quick', 'quick tunnel is ready');
  let url = '';
  await until(() => (url = /^\s+(http:\/\/\S+)\s*$/m.exec(readLog('quick'))?.[1] ?? '') !== '', 'the quick tunnel URL');
  const host = new URL(url).hostname;
  const at = (pop: string): Target => ({ name: 'burrow', base: `http://${pops.get(pop)!.http}`, host });
  // The chain is measured and published within a few probes.
  await until(async () => (await call(at('a'), 'GET', '/')).status === 200, 'the tunnel to answer at a', 60_000);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const rows: string[][] = [['', 'req/s (50 conns)', 'p50 ms', 'p99 ms', 'errors', 'p50 ms (1 conn)']];
  const results = new Map<string, Result>();
  const single = new Map<string, Result>();
  for (const [label, pop] of [['0 hops (at d)', 'd'], ['1 hop (c > d)', 'c'], ['3 hops (a > b > c > d)', 'a']] as const) {
    process.stdout.write(`  network GET / ${label} ...`);
    await load(tool, at(pop), '/', 50, WARMUP);
    const result = await load(tool, at(pop), '/', 50, DURATION);
    results.set(pop, result);
    const alone = await load(tool, at(pop), '/', 1, Math.min(DURATION, 5));
    single.set(pop, alone);
    rows.push([`GET / ${label}`, result.rps.toFixed(0), result.p50.toFixed(2), result.p99.toFixed(2), String(result.errors), alone.p50.toFixed(2)]);
    process.stdout.write(' done\n');
  }
  process.stdout.write('  network GET /1m 3 hops ...');
  await load(tool, at('a'), '/1m', 10, WARMUP);
  const big = await load(tool, at('a'), '/1m', 10, DURATION);
  process.stdout.write(' done\n');
  console.log('\nA network of PoPs (`burrow network dev`, four PoPs in one process, no added delay on the path):');
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log();
  for (const row of rows) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   '));
  console.log(`GET /1m 3 hops MiB/s (10 conns)   ${big.mibps.toFixed(1)}   (p99 ${big.p99.toFixed(2)} ms, errors ${big.errors})`);
  const perHop = (single.get('a')!.p50 - single.get('d')!.p50) / 3;
  console.log(`added p50 per hop (1 conn)        ${perHop.toFixed(2)} ms`);
}

/** SIGTERM (graceful), then SIGKILL whatever is still running after 30 s (a process run with --cpu-prof writes its profile on the way out). */
async function stopAll(): Promise<void> {
  stopping = true;
  for (const child of helpers) child.kill('SIGKILL');
  const running = [...children.values()].reverse().filter((child) => child.exitCode === null && child.signalCode === null);
  await Promise.all(running.map((child) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => (clearTimeout(timer), resolve()));
    child.kill('SIGTERM');
  })));
}
