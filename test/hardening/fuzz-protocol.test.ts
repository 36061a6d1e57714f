// Fuzzing the control stream between connector and edge: every line either decodes to a well-typed message or
// is refused with a ProtocolError, whatever the peer sends, and the line reader keeps messages whole however
// the bytes are cut into chunks.
import assert from 'node:assert/strict';
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { RegistrationError, TunnelConnection } from '../../core/connector/tunnel-connection.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { createCertificateAuthority, issueServerCertificate } from '../../plugins/origin-ca/ca.ts';
import { splitHostPort } from '../../core/transport/host.ts';
import {
  CONTROL_PATH,
  EDGE_SERVER_NAME,
  MAX_MESSAGE_LENGTH,
  PROTOCOL_VERSION,
  ProtocolError,
  encodeMessage,
  parseConnectorMessage,
  parseEdgeMessage,
  readMessages,
  type ConnectorMessage,
  type EdgeMessage,
} from '../../core/transport/protocol.ts';
import { createTunnel, startEdge, type TestEdge } from '../helpers/harness.ts';
import { RUNS, describeError, failOnUnhandledRejection } from './fuzz-support.ts';

failOnUnhandledRejection();

const isString = (value: unknown) => typeof value === 'string';
const optional = (value: unknown, check: (value: unknown) => boolean) => value === undefined || check(value);
const isPlain = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Written apart from the decoder: what a message the edge may act on looks like. */
function isConnectorMessage(value: unknown): value is ConnectorMessage {
  if (!isPlain(value)) return false;
  if (value.type === 'unregister') return Object.keys(value).length === 1;
  return (
    value.type === 'register' &&
    ['tunnelId', 'tunnelSecret', 'connectorId', 'version'].every((key) => isString(value[key])) &&
    Number.isSafeInteger(value.connIndex) &&
    (value.connIndex as number) >= 0 &&
    optional(value.protocol, Number.isSafeInteger) &&
    optional(value.hostnames, (list) => Array.isArray(list) && list.every(isString))
  );
}

function isEdgeMessage(value: unknown): value is EdgeMessage {
  if (!isPlain(value)) return false;
  switch (value.type) {
    case 'registered':
      return ['connectionId', 'pop', 'tunnelId'].every((key) => isString(value[key]));
    case 'refused':
      return isString(value.message) && typeof value.retry === 'boolean' && optional(value.retryAfterMs, (ms) => typeof ms === 'number' && Number.isFinite(ms) && ms >= 0);
    case 'unregistered':
      return Object.keys(value).length === 1;
    default:
      return false;
  }
}

/** Runs `decode`; it must return a message `valid` accepts or throw a ProtocolError, nothing else. */
function decodesOrRefuses(decode: (line: string) => unknown, valid: (value: unknown) => boolean, line: string): void {
  let decoded: unknown;
  try {
    decoded = decode(line);
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError for ${JSON.stringify(line.slice(0, 200))}, got ${describeError(error)}`);
    assert.ok(error.message.length > 0);
    return;
  }
  assert.ok(valid(decoded), `decoded an invalid message ${JSON.stringify(decoded)} from ${JSON.stringify(line.slice(0, 200))}`);
}

const text = fc.string({ unit: 'binary', maxLength: 40 });
const register = fc.record(
  {
    type: fc.constant('register' as const),
    tunnelId: text,
    tunnelSecret: text,
    connIndex: fc.nat(),
    connectorId: text,
    version: text,
    protocol: fc.integer(),
    hostnames: fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { maxLength: 4 }),
  },
  { requiredKeys: ['type', 'tunnelId', 'tunnelSecret', 'connIndex', 'connectorId', 'version'] },
);
const connectorMessage: fc.Arbitrary<ConnectorMessage> = fc.oneof(register, fc.constant({ type: 'unregister' as const }));
const edgeMessage: fc.Arbitrary<EdgeMessage> = fc.oneof(
  fc.record({ type: fc.constant('registered' as const), connectionId: text, pop: text, tunnelId: text }),
  fc.record(
    { type: fc.constant('refused' as const), message: text, retry: fc.boolean(), retryAfterMs: fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e12, noNaN: true })) },
    { requiredKeys: ['type', 'message', 'retry'] },
  ),
  fc.constant({ type: 'unregistered' as const }),
);

/** A valid message with keys replaced by arbitrary JSON, deleted, or added. */
function mutated(valid: fc.Arbitrary<object>): fc.Arbitrary<string> {
  const keys = ['type', 'tunnelId', 'tunnelSecret', 'connIndex', 'connectorId', 'version', 'protocol', 'hostnames', 'connectionId', 'pop', 'message', 'retry', 'retryAfterMs', '__proto__', 'constructor'];
  const key = fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 8 }));
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key, value: fc.jsonValue({ maxDepth: 3 }) }),
    fc.record({ kind: fc.constant('delete' as const), key }),
  );
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([message, edits]) => {
    const copy: Record<string, unknown> = { ...message };
    for (const change of edits) {
      if (change.kind === 'set') Object.defineProperty(copy, change.key, { value: change.value, enumerable: true, writable: true, configurable: true });
      else delete copy[change.key];
    }
    return JSON.stringify(copy);
  });
}

/** Text a peer might send on one line: anything, JSON of anything, and near-misses of real messages. */
const lines = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString()),
  mutated(connectorMessage),
  mutated(edgeMessage),
  connectorMessage.map((message) => JSON.stringify(message)),
  edgeMessage.map((message) => JSON.stringify(message)),
);

async function* chunks(parts: ReadonlyArray<Buffer | string>): AsyncGenerator<Buffer | string> {
  for (const part of parts) yield part;
}

async function collect<T>(parts: ReadonlyArray<Buffer | string>, parse: (line: string) => T): Promise<T[]> {
  const out: T[] = [];
  for await (const message of readMessages(chunks(parts), parse)) out.push(message);
  return out;
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    parts.push(bytes.subarray(start, point));
    start = point;
  }
  return parts;
}

/** What JSON carries of a message (-0 becomes 0, undefined keys go). */
const overTheWire = (message: unknown) => JSON.parse(JSON.stringify(message)) as unknown;

describe('control messages: decoding', () => {
  it('a line from a connector decodes to a valid message or is refused with a ProtocolError', () => {
    fc.assert(
      fc.property(lines, (line) => decodesOrRefuses(parseConnectorMessage, isConnectorMessage, line)),
      { numRuns: RUNS },
    );
  });

  it('a line from the edge decodes to a valid message or is refused with a ProtocolError', () => {
    fc.assert(
      fc.property(lines, (line) => decodesOrRefuses(parseEdgeMessage, isEdgeMessage, line)),
      { numRuns: RUNS },
    );
  });

  it('every valid message survives encodeMessage and decoding unchanged', () => {
    fc.assert(
      fc.property(connectorMessage, edgeMessage, (fromConnector, fromEdge) => {
        assert.deepEqual(parseConnectorMessage(encodeMessage(fromConnector).trimEnd()), overTheWire(fromConnector));
        assert.deepEqual(parseEdgeMessage(encodeMessage(fromEdge).trimEnd()), overTheWire(fromEdge));
      }),
      { numRuns: RUNS },
    );
  });

  it('the decoded message carries only the protocol fields, not what else the peer sent', () => {
    const decoded = parseConnectorMessage('{"type":"register","tunnelId":"t","tunnelSecret":"s","connIndex":0,"connectorId":"c","version":"v","__proto__":{"polluted":true},"extra":1}');
    assert.deepEqual(Object.keys(decoded).sort(), ['connIndex', 'connectorId', 'tunnelId', 'tunnelSecret', 'type', 'version']);
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  });

  // Counterexamples the raw JSON.parse of earlier versions let through, to fail deep inside the edge or connector.
  const regressions: Array<[line: string, why: string]> = [
    ['null', 'message.type of null was a TypeError in the edge'],
    ['"register"', 'a JSON string has no fields'],
    ['[]', 'a JSON array'],
    ['{}', 'no type'],
    ['{"type":"register"}', 'a register without credentials reached the registry as "undefined"'],
    ['{"type":"register","tunnelId":{},"tunnelSecret":"s","connIndex":0,"connectorId":"c","version":"v"}', 'an object as tunnel id'],
    ['{"type":"register","tunnelId":"t","tunnelSecret":"s","connIndex":-1,"connectorId":"c","version":"v"}', 'a negative connection index'],
    ['{"type":"register","tunnelId":"t","tunnelSecret":"s","connIndex":0,"connectorId":"c","version":"v","protocol":"1"}', 'protocol as a string'],
    ['{"type":"register","tunnelId":"t","tunnelSecret":"s","connIndex":0,"connectorId":"c","version":"v","hostnames":"a.test"}', 'hostnames not a list'],
    ['{"type":"refused"}', 'a refusal without a message or retry'],
    ['{"type":"refused","message":"no","retry":true,"retryAfterMs":-5}', 'a negative retry delay'],
    ['{"type":"registered","connectionId":1,"pop":"fra","tunnelId":"t"}', 'a numeric connection id'],
    ['{"type":7}', 'a numeric type'],
    ['{"type":"toString"}', 'a type named after an Object.prototype key'],
    ['{"type":"__proto__"}', 'a type named __proto__'],
    ['{"__proto__":{"type":"register"}}', 'a type only on the prototype'],
    ['{"type":"register"', 'truncated JSON'],
    [`${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'deeply nested JSON'],
  ];
  for (const [line, why] of regressions) {
    it(`refuses ${JSON.stringify(line.slice(0, 60))} (${why})`, () => {
      assert.throws(() => parseConnectorMessage(line), ProtocolError);
      assert.throws(() => parseEdgeMessage(line), ProtocolError);
    });
  }
});

describe('control messages: the line reader', () => {
  it('messages cut into chunks anywhere, inside multi-byte characters too, come out whole and in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(connectorMessage, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 8 }), async (messages, offsets) => {
        const bytes = Buffer.from(messages.map(encodeMessage).join(''));
        assert.deepEqual(await collect(cut(bytes, offsets), parseConnectorMessage), overTheWire(messages));
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary bytes in arbitrary chunks yield valid messages and then end or fail with a ProtocolError', async () => {
    const stream = fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)), lines.map((line) => Buffer.from(`${line}\n`))), { maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(stream, async (parts) => {
        try {
          for (const message of await collect(parts, parseEdgeMessage)) assert.ok(isEdgeMessage(message), JSON.stringify(message));
        } catch (error) {
          assert.ok(error instanceof ProtocolError, describeError(error));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('regression: a character split across two chunks is not replaced by U+FFFD', async () => {
    const message: ConnectorMessage = { type: 'register', tunnelId: 't', tunnelSecret: 's', connIndex: 0, connectorId: 'c', version: 'vé', hostnames: ['bücher.example.test', '🦡.test'] };
    const bytes = Buffer.from(encodeMessage(message));
    for (let at = 1; at < bytes.length; at++) {
      assert.deepEqual(await collect([bytes.subarray(0, at), bytes.subarray(at)], parseConnectorMessage), [message], `cut at byte ${at}`);
    }
  });

  it('regression: many small messages arriving in one large chunk are not "too large"', async () => {
    const one = encodeMessage({ type: 'unregister' });
    const chunk = Buffer.from(one.repeat(Math.ceil((MAX_MESSAGE_LENGTH * 1.5) / one.length)));
    const messages = await collect([chunk], parseConnectorMessage);
    assert.equal(messages.length, Math.ceil((MAX_MESSAGE_LENGTH * 1.5) / one.length));
  });

  it('a line longer than the limit ends the stream with a ProtocolError, with or without its newline', async () => {
    const long = `{"type":"unregister","pad":"${'x'.repeat(MAX_MESSAGE_LENGTH)}"}`;
    await assert.rejects(collect([long.slice(0, 1000), long.slice(1000)], parseConnectorMessage), ProtocolError);
    await assert.rejects(collect([`${long}\n`], parseConnectorMessage), ProtocolError);
  });

  it('blank lines and a partial last line without its newline yield nothing', async () => {
    assert.deepEqual(await collect(['\n', '  \n\r\n', '{"type":"unregi'], parseConnectorMessage), []);
  });
});

/** Each run is a TLS handshake and an HTTP/2 session with a real edge. */
const EDGE_RUNS = 200;

describe('control messages: a real edge', () => {
  let edge: TestEdge;
  let credentials: TunnelCredentials;
  before(async () => {
    edge = await startEdge();
    credentials = await createTunnel(edge, 'fuzz', ['fuzz.example.test']);
  });
  after(() => edge?.stop());

  /**
   * Dials the edge as a connector would, answers its control stream with `lines`, and returns what the edge
   * sent back until it hung up or refused, or a message of type `until` arrived.
   */
  function converse(lines: readonly string[], until?: EdgeMessage['type']): Promise<unknown[]> {
    const { host, port } = splitHostPort(credentials.edge!);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host, port, servername: EDGE_SERVER_NAME, ca: credentials.tls.caPem, cert: credentials.tls.certPem, key: credentials.tls.keyPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
      const server = http2.createServer();
      const received: unknown[] = [];
      let done = false;
      const finish = (error?: unknown) => {
        if (done) return;
        done = true;
        socket.destroy();
        if (error) reject(error);
        else resolve(received);
      };
      socket.on('error', () => finish());
      socket.on('close', () => finish());
      server.on('sessionError', () => finish());
      server.on('request', async (req: Http2ServerRequest, res: Http2ServerResponse) => {
        if (req.url !== CONTROL_PATH) return void res.writeHead(404).end();
        res.writeHead(200);
        res.write(lines.map((line) => `${line}\n`).join(''));
        try {
          for await (const message of readMessages(req, parseEdgeMessage)) {
            received.push(message);
            if (message.type === 'refused' || message.type === until) return finish();
          }
          finish();
        } catch (error) {
          finish(error instanceof ProtocolError ? new Error(`the edge sent a line that is not a control message: ${error.message}`) : undefined);
        }
      });
      socket.once('secureConnect', () => server.emit('connection', socket));
    });
  }

  const registerLine = (overrides: Record<string, unknown> = {}) =>
    JSON.stringify({ type: 'register', tunnelId: credentials.tunnelId, tunnelSecret: credentials.tunnelSecret, connIndex: 0, connectorId: 'fuzz', version: 'test', protocol: PROTOCOL_VERSION, ...overrides });

  it('whatever a connector sends on the control stream, the edge answers with valid messages or hangs up, and stays up', async () => {
    const tail = fc.constantFrom('{}', 'null', '{"type":"nope"}');
    const opening = fc.oneof(
      lines,
      fc.constant('register').map(() => registerLine()),
      fc.record({ key: fc.constantFrom('tunnelId', 'tunnelSecret', 'connIndex', 'protocol', 'hostnames', 'version'), value: fc.jsonValue({ maxDepth: 2 }) }).map(({ key, value }) => registerLine({ [key]: value })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opening, { maxLength: 3 }), fc.array(fc.oneof(lines, fc.constant('{"type":"unregister"}')), { maxLength: 2 }), tail, async (first, rest, last) => {
        // The last line always ends the conversation: it is not a message the edge can act on.
        const received = await converse([...first, ...rest, last]);
        for (const message of received) assert.ok(isEdgeMessage(message), JSON.stringify(message));
        assert.ok(received.length <= 2, `at most registered and unregistered, got ${JSON.stringify(received)}`);
      }),
      { numRuns: EDGE_RUNS },
    );
    // Connections that ended before registering hold no registration timer (each held its session for 10 s).
    await new Promise((resolve) => setImmediate(resolve));
    const timers = process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    assert.ok(timers < EDGE_RUNS / 4, `${timers} timers still pending after ${EDGE_RUNS} conversations`);
    // And a connector that speaks properly is still registered. (Its bad last line above could end the session
    // before earlier answers were flushed, so here nothing follows the register.)
    const answer = await converse([registerLine()], 'registered');
    assert.deepEqual(answer.map((message) => (message as EdgeMessage).type), ['registered']);
  });
});

/** Each run is a TLS handshake and an HTTP/2 session with a real connector. */
const CONNECTOR_RUNS = 200;

describe('control messages: a real connector', () => {
  let server: tls.Server;
  let port: number;
  let caPem: string;
  /** What the fake edge answers the next register with; null ends the control stream without a word. */
  let reply: string | null = '';
  const sockets = new Set<tls.TLSSocket>();

  before(async () => {
    const ca = await createCertificateAuthority({ commonName: 'Burrow fuzz edge CA' });
    const certificate = await issueServerCertificate(ca, { commonName: EDGE_SERVER_NAME, dnsNames: [EDGE_SERVER_NAME] });
    caPem = ca.certPem;
    server = tls.createServer({ key: certificate.keyPem, cert: certificate.certPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
    server.on('secureConnection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      const session = http2.connect('http://connector.burrow.internal', { createConnection: () => socket });
      session.on('error', () => undefined);
      const control = session.request({ ':method': 'POST', ':path': CONTROL_PATH }, { endStream: false });
      control.on('error', () => undefined);
      const answer = reply;
      control.once('data', () => (answer === null ? control.end() : control.write(answer)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    // Connections a connector failed to close would keep the server open.
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const credentials = (): TunnelCredentials => ({ tunnelId: 'tunnel', tunnelSecret: 'secret', zone: 'example.test', tls: { caPem } });

  it('whatever the edge answers a register with, the connector registers, or fails with a clear error and hangs up', async () => {
    const answers = fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      // The last line settles it when the others are blank.
      { weight: 9, arbitrary: fc.tuple(fc.array(fc.oneof(lines, edgeMessage.map((message) => JSON.stringify(message))), { maxLength: 3 }), fc.constantFrom('{}', '{"type":"unregistered"}')).map(([first, last]) => [...first, last].map((line) => `${line}\n`).join('')) },
    );
    await fc.assert(
      fc.asyncProperty(answers, async (answer) => {
        reply = answer;
        const connection = new TunnelConnection({ host: '127.0.0.1', port }, credentials(), { index: 0, connectorId: 'fuzz', version: 'test', heartbeatIntervalMs: 60_000, heartbeatCount: 3 }, (stream) => stream.respond({ ':status': 200 }, { endStream: true }), silentLogger);
        let closed = false;
        connection.once('closed', () => (closed = true));
        try {
          const registered = await connection.connect();
          assert.equal(typeof registered.connectionId, 'string');
          assert.equal(typeof registered.pop, 'string');
          connection.close();
        } catch (error) {
          assert.ok(error instanceof RegistrationError || error instanceof ProtocolError, describeError(error));
          assert.ok(closed, `the connection is closed after ${describeError(error)}`);
        }
      }),
      { numRuns: CONNECTOR_RUNS },
    );
  });
});
