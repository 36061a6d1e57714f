// Hostile peers at the tunnel port: garbage, plain HTTP, TLS without or with foreign certificates, another zone's
// certificate claiming this tunnel, a thousand dropped handshakes and HTTP/2 floods. Each is refused or closed, the
// edge's connections table is back to what it was, and the healthy tunnel still serves exactly the visitor's request.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { createCertificateAuthority, createKeyAndCsr, signZoneCertificate } from '../../plugins/origin-ca/ca.ts';
import { createTunnel, eventually, removeDir, startConnector, startOrigin, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';
import { loggedConnector, startLoggedEdge, tlsAttempt } from '../helpers/identity.ts';
import { target } from './raw.ts';

let edge: Awaited<ReturnType<typeof startLoggedEdge>>;
let origin: TestOrigin;
let healthy: TunnelCredentials & { apiToken: string };
let other: TunnelCredentials & { apiToken: string };
let connector: Connector;
let connections: string[];
const seen: string[] = [];
let checks = 0;

before(async () => {
  edge = await startLoggedEdge({ zones: ['example.test', 'other.test'] });
  origin = await startOrigin((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('healthy');
  });
  healthy = await createTunnel(edge, 'port-healthy', ['port.example.test']);
  other = await createTunnel(edge, 'port-other', ['port.other.test'], 'other.test');
  connector = await startConnector(healthy, { ingress: [{ service: origin.url }] });
  await eventually(() => edge.edge.connections.forTunnel(healthy.tunnelId).length === 2, 20_000, 'the healthy tunnel connected');
  connections = ids();
});
after(() => stopAll(() => connector?.stop(0), () => edge?.stop(), () => origin?.close(), () => removeDir(edge.dataDir)));

const ids = () => edge.edge.connections.all().map((c) => c.id).sort();
const tunnelAddress = () => edge.edge.addresses!.tunnel;

/** The connections table is what it was, and a visitor request reaches the origin, and only it. */
async function assertHealthy(): Promise<void> {
  await eventually(() => ids().join() === connections.join(), 20_000, 'the connections table back to the healthy tunnel’s two');
  const path = `/check-${++checks}`;
  const before = seen.length;
  const response = await visit(edge.url, path, { host: 'port.example.test', timeoutMs: 20_000 });
  assert.equal(response.status, 200);
  assert.equal(response.text, 'healthy');
  assert.deepEqual(seen.slice(before), [`GET ${path}`], 'the origin saw exactly the visitor request');
}

/** Writes `data` on a plain TCP connection and resolves once the edge closed it (bounded). */
function rawClosed(data: Buffer | string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(target(tunnelAddress()));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 15_000);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('connect', () => socket.write(data));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const logged = (msg: string) => edge.lines.filter((line) => line.msg === msg).length;

describe('tunnel port: hostile peers', () => {
  it('garbage bytes: the edge closes the connection and logs the refused handshake', async () => {
    const before = logged('connector TLS handshake refused');
    assert.equal(await rawClosed(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff))), true);
    await eventually(() => logged('connector TLS handshake refused') > before, 5_000, 'the refusal logged');
    await assertHealthy();
  });

  it('plain HTTP: closed', async () => {
    assert.equal(await rawClosed('GET / HTTP/1.1\r\nHost: port.example.test\r\n\r\n'), true);
    await assertHealthy();
  });

  it('TLS without a client certificate: refused', async () => {
    const result = await tlsAttempt(tunnelAddress(), { caPem: healthy.tls.caPem });
    assert.equal(result.http2, false);
    await assertHealthy();
  });

  it('TLS with a certificate from a foreign CA: refused', async () => {
    const foreign = await createCertificateAuthority({ commonName: 'Foreign CA' });
    const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const forged = await signZoneCertificate(foreign, csrPem, { zones: ['example.test'] });
    const result = await tlsAttempt(tunnelAddress(), { caPem: healthy.tls.caPem, certPem: forged.certPem, keyPem });
    assert.equal(result.http2, false);
    await assertHealthy();
  });

  it('a valid certificate of another zone claiming this tunnel’s id and secret: registration refused', async () => {
    const { connector: intruder } = loggedConnector({ ...healthy, tls: other.tls }, { ingress: [{ service: 'http_status:418' }], 'ha-connections': 1 } as never);
    void intruder.start().catch(() => undefined);
    try {
      await eventually(() => edge.lines.some((line) => line.msg === 'registration refused' && line.tunnel === healthy.tunnelId), 15_000, 'the edge refusing the registration');
    } finally {
      await intruder.stop(0).catch(() => undefined);
    }
    await assertHealthy();
  });

  it('1,000 TLS handshakes opened and dropped, 50 at a time: no connection left behind', async () => {
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          new Promise<void>((resolve) => {
            const socket = tls.connect({ ...target(tunnelAddress()), ca: healthy.tls.caPem, cert: healthy.tls.certPem, key: healthy.tls.keyPem, servername: 'tunnel.burrow.internal', ALPNProtocols: ['h2'] });
            socket.on('error', () => undefined);
            const done = () => {
              socket.destroy();
              resolve();
            };
            // Half drop mid-handshake, half right after it.
            if (i % 2) setImmediate(done);
            else socket.once('secureConnect', done);
            socket.once('close', () => resolve());
          }),
        ),
      );
    }
    await eventually(async () => {
      const server = (edge.edge as unknown as { tunnelListener: { server: net.Server } }).tunnelListener.server;
      const count = await new Promise<number>((resolve) => server.getConnections((_error, n) => resolve(n)));
      return count === 2;
    }, 30_000, 'the tunnel listener back to its two connections');
    await assertHealthy();
  });

  describe('HTTP/2 floods from a peer with a valid certificate', () => {
    /** Connects with the healthy tunnel's certificate, answers the edge's preface with `frames`, and resolves when the edge closes. */
    function flood(frames: (write: (frame: Buffer) => boolean) => void): Promise<boolean> {
      return new Promise((resolve) => {
        const socket = tls.connect({ ...target(tunnelAddress()), ca: healthy.tls.caPem, cert: healthy.tls.certPem, key: healthy.tls.keyPem, servername: 'tunnel.burrow.internal', ALPNProtocols: ['h2'] });
        socket.on('error', () => undefined);
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(false);
        }, 30_000);
        mark = edge.lines.length;
        let started = false;
        socket.on('data', () => {
          if (started) return;
          started = true;
          socket.write(frame(4, 0, 0, Buffer.alloc(0)));
          frames((data) => !socket.destroyed && socket.write(data));
        });
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    }
    let mark = 0;
    const newLines = () => edge.lines.slice(mark).map((l) => `${l.msg} ${String(l.err ?? l.reason ?? "")}`);
    /** Exactly one line for the closed session, naming why. */
    const assertOneReason = async () => {
      const lines = () => edge.lines.slice(mark).filter((l) => l.msg === 'tunnel session closed on an error');
      await eventually(() => lines().length > 0, 10_000, 'the closed session logged');
      const closed = lines();
      assert.equal(closed.length, 1, `one log line for the closed session (${newLines().join('; ')})`);
      assert.ok(String(closed[0]!.reason).length > 0);
    };
    const repeat = (count: number, make: (i: number) => Buffer) => (write: (frame: Buffer) => boolean) => {
      const all = Buffer.concat(Array.from({ length: count }, (_, i) => make(i)));
      write(all);
    };

    it('PING flood: the session is closed', async () => {
      assert.equal(await flood(repeat(100_000, () => frame(6, 0, 0, Buffer.alloc(8)))), true);
      await assertOneReason();
      await assertHealthy();
    });
    it('SETTINGS flood: the session is closed', async () => {
      assert.equal(await flood(repeat(100_000, () => frame(4, 0, 0, Buffer.from([0, 4, 0, 0, 0xff, 0xff])))), true);
      await assertOneReason();
      await assertHealthy();
    });
    it('RST_STREAM flood (rapid reset) on streams that never existed: the session is closed', async () => {
      assert.equal(await flood(repeat(50_000, (i) => frame(3, 0, 2 * i + 2, Buffer.from([0, 0, 0, 8])))), true);
      await assertOneReason();
      await assertHealthy();
    });
    it('CONTINUATION flood without END_HEADERS: the session is closed', async () => {
      // A response HEADERS on the control stream without END_HEADERS, then CONTINUATION frames that never end it.
      assert.equal(await flood((write) => write(Buffer.concat([frame(1, 0, 1, Buffer.from([0x88])), ...Array.from({ length: 50_000 }, () => frame(9, 0, 1, Buffer.alloc(16, 0x40)))]))), true);
      await assertOneReason();
      await assertHealthy();
    });
    it('WINDOW_UPDATE garbage (increment 0 and overflow): the session is closed', async () => {
      assert.equal(await flood(repeat(1_000, (i) => frame(8, 0, 0, Buffer.from(i % 2 ? [0x7f, 0xff, 0xff, 0xff] : [0, 0, 0, 0])))), true);
      await assertOneReason();
      await assertHealthy();
    });
  });
});

/** One HTTP/2 frame: 9-byte header (length, type, flags, stream id) and payload. */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}
