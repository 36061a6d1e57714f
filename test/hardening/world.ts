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
  stop(): Promise<void>;
}

let checks = 0;

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
    const b = await createTunnel(edge, 'hostile-b', ['b.example.test']);
    connectors.push(await startConnector(a, { ingress: [{ service: originA.url }] }));
    connectors.push(await startConnector(b, { ingress: [{ service: originB.url }] }));
    await eventually(() => edge.edge.connections.forTunnel(a.tunnelId).length === 2 && edge.edge.connections.forTunnel(b.tunnelId).length === 2, 20_000, 'both tunnels connected');
    address = edge.edge.addresses!.http!;
  } catch (error) {
    await stopAll(...connectors.map((c) => () => c.stop(0)), () => edge.stop(), () => originA.close(), () => originB.close());
    throw error;
  }

  const requests = (seen: Seen[]) => seen.map((s) => `${s.method} ${s.url}`);
  return {
    address,
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
      assert.deepEqual(requests(seenA), [...expectA, `GET ${path}`], 'origin A saw exactly these requests');
      assert.deepEqual(requests(seenB), [...expectB], 'origin B saw exactly these requests');
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
}

/** A complete request head (CRLF line ends) from its lines. */
export function head(...lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}
