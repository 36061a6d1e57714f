// One edge with two tunnels on two hostnames, each origin recording what reached it, for the hostile-visitor suites.
import assert from 'node:assert/strict';
import type { Connector } from '../../core/connector/connector.ts';
import type { EdgeConfigInput } from '../../config/schema.ts';
import { createTunnel, eventually, removeDir, startConnector, startOrigin } from '../helpers/harness.ts';
import { stopAll } from '../helpers/http.ts';
import { startLoggedEdge, type LogLine } from '../helpers/identity.ts';
import { sendRaw, type RawOptions, type RawResult } from './raw.ts';

export interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: string;
}

export interface HostileWorld {
  /** The visitor listener, host:port. */
  address: string;
  /** The https visitor listener, when the settings asked for one. */
  httpsAddress?: string;
  lines: LogLine[];
  /** What origin A (a.example.test) and origin B (b.example.test) received, in order. */
  seenA: Seen[];
  seenB: Seen[];
  edgeProcessRss(): number;
  send(data: string | Buffer | ReadonlyArray<string | Buffer>, options?: RawOptions): Promise<RawResult>;
  /** Forgets what the origins saw, before a case. */
  reset(): void;
  /**
   * A normal request through the same edge still gets 200, and once it arrived the origins saw exactly `expectA`
   * (then the check request) and `expectB`: nothing smuggled, nothing misrouted.
   */
  assertHealthy(expectA?: ReadonlyArray<string>, expectB?: ReadonlyArray<string>): Promise<void>;
  /**
   * Sends `data` on a fresh connection and checks the whole case: refused with `status` (see assertRefused), one
   * debug line saying why, and then a normal request still served with neither origin having seen anything else.
   */
  refuses(data: string | Buffer | ReadonlyArray<string | Buffer>, status: number | readonly number[], options?: RawOptions): Promise<RawResult>;
  /** The edge's log lines for refused visitor requests. */
  refusalLines(): LogLine[];
  stop(): Promise<void>;
}

let checks = 0;

/** `bücher.example.test` as it travels in a Host header: routed to tunnel B. */
export const PUNYCODE_HOST = 'xn--bcher-kva.example.test';

/**
 * The edge refused: `status`, the short page with its ray id (no stack trace), and the connection closed, so
 * nothing the visitor sent after it is read as another request.
 */
export function assertRefused(result: RawResult, status: number | readonly number[], what = 'the request'): void {
  const statuses = typeof status === 'number' ? [status] : status;
  const seen = result.raw.toString('latin1').slice(0, 300);
  assert.ok(statuses.includes(result.status), `${what}: expected ${statuses.join(' or ')}, got ${result.status} (${seen})`);
  assert.equal(result.responses.length, 1, `${what}: exactly one answer (${seen})`);
  const answer = result.responses[0]!;
  assert.match(answer.headers['burrow-ray'] ?? '', /^[0-9a-f]{16}-test$/, `${what}: the answer carries a ray id`);
  assert.match(answer.text, /Ray ID: <code>[0-9a-f]{16}-test<\/code>/, `${what}: the status page shows the ray id`);
  assert.doesNotMatch(answer.text, /\n\s+at |Error:/, `${what}: no stack trace`);
  assert.ok(result.closed, `${what}: the edge closed the connection`);
}

export async function startHostileWorld(settings: Partial<EdgeConfigInput> = {}): Promise<HostileWorld> {
  const edge = await startLoggedEdge(settings);
  const seenA: Seen[] = [];
  const seenB: Seen[] = [];
  const recorder = (seen: Seen[], name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('latin1') });
      res.end(`${name} ${req.method} ${req.url}`);
    });
  };
  const originA = await startOrigin(recorder(seenA, 'A'));
  const originB = await startOrigin(recorder(seenB, 'B'));
  const connectors: Connector[] = [];
  let address = '';
  try {
    const a = await createTunnel(edge, 'hostile-a', ['a.example.test']);
    const b = await createTunnel(edge, 'hostile-b', ['b.example.test', PUNYCODE_HOST]);
    connectors.push(await startConnector(a, { ingress: [{ service: originA.url }] }));
    connectors.push(await startConnector(b, { ingress: [{ service: originB.url }] }));
    await eventually(() => edge.edge.connections.forTunnel(a.tunnelId).length === 2 && edge.edge.connections.forTunnel(b.tunnelId).length === 2, 20_000, 'both tunnels connected');
    address = edge.edge.addresses!.http!;
  } catch (error) {
    await stopAll(...connectors.map((c) => () => c.stop(0)), () => edge.stop(), () => originA.close(), () => originB.close());
    throw error;
  }

  const refusalLines = () => edge.lines.filter((line) => line.msg === 'visitor request refused');
  const requests = (seen: Seen[]) => seen.map((s) => `${s.method} ${s.url}`);
  const world: HostileWorld = {
    address,
    httpsAddress: edge.edge.addresses?.https,
    lines: edge.lines,
    seenA,
    seenB,
    edgeProcessRss: () => process.memoryUsage().rss,
    send: (data, options) => sendRaw(address, data, options),
    reset() {
      seenA.length = 0;
      seenB.length = 0;
    },
    async assertHealthy(expectA = [], expectB = []) {
      const path = `/healthy-${++checks}`;
      const result = await sendRaw(address, `GET ${path} HTTP/1.1\r\nHost: a.example.test\r\nConnection: close\r\n\r\n`, { timeoutMs: 20_000 });
      assert.equal(result.status, 200, `a normal request after the case gets 200 (got ${result.raw.toString('latin1').slice(0, 200)})`);
      assert.equal(result.responses[0]!.text, `A GET ${path}`);
      await eventually(() => seenA.some((s) => s.url === path), 10_000, 'origin A seeing the check request');
      // Requests of one connection travel on separate tunnel streams, so they may reach the origin in any order.
      assert.deepEqual(requests(seenA).sort(), [...expectA, `GET ${path}`].sort(), 'origin A saw exactly these requests');
      assert.deepEqual(requests(seenB).sort(), [...expectB].sort(), 'origin B saw exactly these requests');
    },
    refusalLines,
    async refuses(data, status, options) {
      seenA.length = 0;
      seenB.length = 0;
      const before = refusalLines().length;
      const result = await sendRaw(address, typeof data === 'string' ? Buffer.from(data, 'latin1') : data, { timeoutMs: 15_000, ...options });
      assertRefused(result, status);
      await eventually(() => refusalLines().length > before, 5_000, 'the refusal logged');
      const logged = refusalLines().slice(before);
      assert.equal(logged.length, 1, 'one log line for the refusal');
      assert.equal(logged[0]!.status, result.status);
      assert.equal(logged[0]!.level, 20, 'logged at debug level');
      assert.ok(String(logged[0]!.reason ?? '').length > 0, 'the log line says why');
      await world.assertHealthy();
      return result;
    },
    stop: () =>
      stopAll(
        ...connectors.map((c) => () => c.stop(0)),
        () => edge.stop(),
        () => originA.close(),
        () => originB.close(),
        () => removeDir(edge.dataDir),
      ),
  };
  return world;
}

/** A complete request head (CRLF line ends) from its lines. */
export function head(...lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}
