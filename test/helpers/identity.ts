// Helpers for identity tests: edges and connectors whose logs the test can read, and raw TLS attempts on the tunnel port.
import 'reflect-metadata';
import tls from 'node:tls';
import { pino, type Logger } from 'pino';
import { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { configSchema, type BurrowConfigInput, type EdgeConfigInput, type PluginSpec } from '../../config/schema.ts';
import { startEdge, type TestEdge } from './harness.ts';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger that keeps every line as parsed JSON. */
export function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

/** Like the harness's startEdge, but with its log captured and extra plugin specs (e.g. options for a built-in). */
export async function startLoggedEdge(settings: Partial<EdgeConfigInput> = {}, plugins: PluginSpec[] = []): Promise<TestEdge & { lines: LogLine[] }> {
  const { log, lines } = captureLogger();
  return { ...(await startEdge(settings, { log, plugins })), lines };
}

/** A connector with its log captured; `start()` is left to the caller (it never resolves while refused). */
export function loggedConnector(credentials: TunnelCredentials, config: BurrowConfigInput = { ingress: [{ service: 'http_status:204' }] }): { connector: Connector; lines: LogLine[] } {
  const { log, lines } = captureLogger();
  const connector = new Connector({
    config: configSchema.parse({ 'ha-connections': 2, 'heartbeat-interval': '1s', 'heartbeat-count': 3, ...config }),
    credentials,
    log,
    backoff: { baseMs: 100, capMs: 1_000 },
  });
  return { connector, lines };
}

/**
 * Dials the tunnel port the way a connector does and reports how the attempt ended: `error` when the TLS
 * handshake was refused, `http2` when the edge accepted and started talking HTTP/2.
 */
export function tlsAttempt(address: string, material: { caPem: string; certPem?: string; keyPem?: string }): Promise<{ error?: Error; http2: boolean }> {
  const index = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: address.slice(0, index),
      port: Number(address.slice(index + 1)),
      servername: 'tunnel.burrow.internal',
      ca: material.caPem,
      cert: material.certPem,
      key: material.keyPem,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
    });
    let received = Buffer.alloc(0);
    const done = (result: { error?: Error; http2: boolean }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // The edge, as HTTP/2 client, opens with the client connection preface once it accepted the certificate.
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.includes('PRI * HTTP/2.0')) done({ http2: true });
    });
    socket.on('error', (error) => done({ error, http2: false }));
    socket.on('close', () => done({ error: new Error('closed by the edge'), http2: false }));
    const timer = setTimeout(() => done({ error: new Error('no answer from the edge within 10 s'), http2: false }), 10_000);
  });
}
