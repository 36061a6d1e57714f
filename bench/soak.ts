// `npm run soak` (node --import tsx bench/soak.ts [--minutes 10] [--rate 1000]): an edge and a connector in their
// own processes (`burrow edge`, `burrow tunnel run`) and an origin here, under a fixed-rate mixed load for N minutes:
// GETs, POSTs whose small body is echoed back and checked, and WebSocket echo messages. Every minute it prints the
// requests done, the errors, and RSS, used heap and open file descriptors of the edge and the connector; at the end
// the RSS growth after minute 1, the fd range and a verdict against the goals (RSS growth < 10%, flat fds, 0 errors).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { removeDir, tempDir } from '../test/helpers/harness.ts';
import {
  HOST,
  createTunnelToken,
  fixedRateLoad,
  loopbackListen,
  sampleProcess,
  startConnectorProcess,
  startEdgeProcess,
  startLoadOrigin,
  type ProcessSample,
} from '../test/helpers/process-world.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '1000' } } });
const MINUTES = Number(values.minutes);
const RATE = Number(values.rate);
if (!(MINUTES > 0) || !(RATE > 0)) throw new Error('--minutes and --rate take positive numbers');
const REQUEST_TIMEOUT_MS = 10_000;
const WS_SOCKETS = 8;
/** A WebSocket is closed and replaced after this many messages, so upgrades are part of the load too. */
const WS_MESSAGES_PER_SOCKET = 200;
/** Allowed rise of the fd count over its minute-1 value (keep-alive connections to the origin come and go). */
const FD_SLACK = 10;

const dir = await tempDir('burrow-soak-');
const origin = await startLoadOrigin();
const edge = await startEdgeProcess(dir, await loopbackListen());
const token = await createTunnelToken(edge, 'soak');
const connector = await startConnectorProcess(dir, 'connector', token, origin.url, { 'ha-connections': 4 });
const pool = new Pool(edge.visitors, { connections: 64, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: 4_000 });

const counts = { done: 0, errors: 0, get: 0, post: 0, ws: 0 };
const errorKinds = new Map<string, number>();
function failed(kind: string): void {
  counts.errors++;
  errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
}

async function get(i: number): Promise<void> {
  const path = `/get/${i}`;
  try {
    const { statusCode, body } = await pool.request({ path, method: 'GET', headers: { host: HOST } });
    const text = await body.text();
    if (statusCode !== 200) failed(`GET status ${statusCode}`);
    else if (text !== `ok ${path}`) failed('GET wrong body');
    else counts.get++;
  } catch (error) {
    failed(`GET ${(error as Error).message}`);
  } finally {
    counts.done++;
  }
}

async function post(): Promise<void> {
  const sent = randomBytes(64 + Math.floor(Math.random() * 448));
  try {
    const { statusCode, body } = await pool.request({ path: '/echo', method: 'POST', headers: { host: HOST, 'content-type': 'application/octet-stream' }, body: sent });
    const echoed = Buffer.from(await body.arrayBuffer());
    if (statusCode !== 200) failed(`POST status ${statusCode}`);
    else if (!echoed.equals(sent)) failed('POST echo differs');
    else counts.post++;
  } catch (error) {
    failed(`POST ${(error as Error).message}`);
  } finally {
    counts.done++;
  }
}

/** One WebSocket of the pool: messages are `<n>:<random>` and each waits for its own echo. */
class EchoSocket {
  readonly ws: WebSocket;
  readonly open: Promise<void>;
  sent = 0;
  private readonly waiting = new Map<string, (text: string | Error) => void>();

  constructor() {
    this.ws = new WebSocket(`${edge.visitors.replace('http:', 'ws:')}/ws`, { headers: { host: HOST }, handshakeTimeout: REQUEST_TIMEOUT_MS });
    this.open = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.open.catch(() => undefined);
    this.ws.on('message', (data) => {
      const text = data.toString();
      this.waiting.get(text.slice(0, text.indexOf(':')))?.(text);
    });
    this.ws.on('error', () => undefined);
    this.ws.once('close', () => {
      for (const settle of [...this.waiting.values()]) settle(new Error('the WebSocket closed'));
    });
  }

  get idle(): boolean {
    return this.waiting.size === 0;
  }

  async echo(): Promise<void> {
    const id = String(this.sent++);
    const message = `${id}:${randomBytes(24).toString('base64')}`;
    await this.open;
    const answer = await new Promise<string | Error>((resolve) => {
      const timer = setTimeout(() => resolve(new Error('no echo in time')), REQUEST_TIMEOUT_MS);
      this.waiting.set(id, (text) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(text);
      });
      this.ws.send(message);
    });
    if (answer instanceof Error) throw answer;
    if (answer !== message) throw new Error('echo differs');
  }
}

const sockets: EchoSocket[] = Array.from({ length: WS_SOCKETS }, () => new EchoSocket());
const retiring = new Set<EchoSocket>();
async function wsMessage(i: number): Promise<void> {
  const slot = i % WS_SOCKETS;
  let socket = sockets[slot]!;
  if (socket.sent >= WS_MESSAGES_PER_SOCKET) {
    retiring.add(socket);
    socket = sockets[slot] = new EchoSocket();
  }
  try {
    await socket.echo();
    counts.ws++;
  } catch (error) {
    failed(`WebSocket ${(error as Error).message}`);
  } finally {
    counts.done++;
    for (const old of retiring) {
      if (old.idle) {
        retiring.delete(old);
        old.ws.close();
      }
    }
  }
}

interface Row {
  minute: number;
  done: number;
  errors: number;
  edge: ProcessSample;
  connector: ProcessSample;
}
const rows: Row[] = [];
const mb = (bytes?: number) => (bytes === undefined ? '?' : (bytes / 1024 / 1024).toFixed(1));
const sample = async () => ({
  edge: await sampleProcess(edge.process.pid, `${edge.api}/metrics`, 'burrow_edge_'),
  connector: await sampleProcess(connector.process.pid, `${connector.metrics}/metrics`, 'burrow_connector_'),
});
// fds sampled every 10 s as well, for the min/max after minute 1.
const fdSeen = { edge: [] as number[], connector: [] as number[] };

console.log(`soak: ${MINUTES} min at ${RATE} req/s (70% GET, 20% POST echo, 10% WebSocket echo), edge pid ${edge.process.pid}, connector pid ${connector.process.pid} (4 connections), Node ${process.version}`);
console.log('| minute | requests | errors | edge RSS MB | edge heap MB | edge fds | connector RSS MB | connector heap MB | connector fds |');
console.log('|---|---|---|---|---|---|---|---|---|');
const begin = Date.now();
let lastDone = 0;
let lastErrors = 0;
let tick = 0;
const sampler = setInterval(() => {
  tick++;
  void (async () => {
    const now = await sample().catch(() => undefined);
    if (!now) return;
    if (tick >= 6) {
      fdSeen.edge.push(now.edge.fds);
      fdSeen.connector.push(now.connector.fds);
    }
    if (tick % 6 !== 0) return;
    const row: Row = { minute: tick / 6, done: counts.done - lastDone, errors: counts.errors - lastErrors, ...now };
    lastDone = counts.done;
    lastErrors = counts.errors;
    rows.push(row);
    console.log(
      `| ${row.minute} | ${row.done} | ${row.errors} | ${mb(row.edge.rssBytes)} | ${mb(row.edge.heapUsedBytes)} | ${row.edge.fds} | ${mb(row.connector.rssBytes)} | ${mb(row.connector.heapUsedBytes)} | ${row.connector.fds} |`,
    );
  })();
}, 10_000);

const load = await fixedRateLoad({
  rate: RATE,
  durationMs: MINUTES * 60_000,
  maxInFlight: 1_000,
  fire: (i) => {
    const kind = i % 10;
    return kind < 7 ? get(i) : kind < 9 ? post() : wsMessage(i);
  },
});
// The last row comes from the sampler once the minute is over.
while (rows.length < MINUTES && Date.now() - begin < MINUTES * 60_000 + 30_000) await new Promise((resolve) => setTimeout(resolve, 200));
clearInterval(sampler);

const first = rows[0];
const last = rows.at(-1);
const growth = (key: 'edge' | 'connector') => (first && last ? ((last[key].rssBytes - first[key].rssBytes) / first[key].rssBytes) * 100 : NaN);
const range = (values: number[]) => (values.length ? { min: Math.min(...values), max: Math.max(...values) } : { min: NaN, max: NaN });
const fds = { edge: range(fdSeen.edge), connector: range(fdSeen.connector) };
const rss = { edge: growth('edge'), connector: growth('connector') };
const rssOk = MINUTES < 2 || (rss.edge < 10 && rss.connector < 10);
// Flat: no growth, i.e. never more than FD_SLACK above the count at the end of minute 1 (dips are idle connections closing).
const fdOk = !!first && fds.edge.max - first.edge.fds <= FD_SLACK && fds.connector.max - first.connector.fds <= FD_SLACK;
const errorsOk = counts.errors === 0;

console.log('');
console.log(`requests: ${counts.done} done of ${load.started} started (${counts.get} GET, ${counts.post} POST, ${counts.ws} WebSocket ok), ${load.skipped} not started (in-flight cap), ${((counts.done / (Date.now() - begin)) * 1000).toFixed(0)} req/s`);
console.log(`errors: ${counts.errors}${errorKinds.size ? ` (${[...errorKinds].map(([kind, n]) => `${kind}: ${n}`).join('; ')})` : ''}`);
console.log(MINUTES < 2 ? 'RSS growth after minute 1: n/a (needs 2+ minutes)' : `RSS growth after minute 1: edge ${rss.edge.toFixed(1)}%, connector ${rss.connector.toFixed(1)}%`);
console.log(`fds after minute 1: edge ${first?.edge.fds} at minute 1, min ${fds.edge.min} max ${fds.edge.max}; connector ${first?.connector.fds} at minute 1, min ${fds.connector.min} max ${fds.connector.max}`);
console.log(
  `verdict: ${rssOk && fdOk && errorsOk ? 'PASS' : 'FAIL'} (RSS growth < 10% after minute 1: ${MINUTES < 2 ? 'n/a, needs 2+ minutes' : rssOk ? 'yes' : 'NO'}; flat fds (at most ${FD_SLACK} above minute 1): ${fdOk ? 'yes' : 'NO'}; 0 errors: ${errorsOk ? 'yes' : 'NO'})`,
);

for (const socket of [...sockets, ...retiring]) socket.ws.terminate();
await pool.close();
await connector.process.stop();
await edge.process.stop();
await origin.close();
await removeDir(dir);
process.exit(rssOk && fdOk && errorsOk ? 0 : 1);
