// Hostile peers at the PoP link port: garbage, TLS without or with foreign certificates, a thousand dropped handshakes
// and HTTP/2 floods from a holder of a real PoP certificate. Each is refused or closed, nothing crashes, and a visitor
// at fra is still carried to the tunnel at iad, its origin seeing exactly that request.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import v8 from 'node:v8';
import vm from 'node:vm';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { createCertificateAuthority, issuePopCertificate } from '../../plugins/origin-ca/ca.ts';
import { startDevNetwork, type DevNetwork } from '../../plugins/network/dev/network.ts';
import { createTunnel, eventually, startConnector, startOrigin, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll } from '../helpers/http.ts';
import { captureLogger } from '../helpers/identity.ts';
import { target } from './raw.ts';

const HOST = 'app.localhost';
let net0: DevNetwork;
let origin: TestOrigin;
let connector: Connector;
let caPem: string;
const { log, lines } = captureLogger();
const seen: string[] = [];
let checks = 0;

before(async () => {
  net0 = await startDevNetwork({ pops: ['fra', 'iad'], probeInterval: 500, log });
  origin = await startOrigin((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['burrow-path']}`);
    res.end('hello');
  });
  const iad = net0.pops.get('iad')!;
  const client = new EdgeClient(`http://${iad.api}`, net0.adminToken);
  const iadEdge = { edge: iad.edge, api: `http://${iad.api}`, url: `http://${iad.http}`, admin: client } as unknown as TestEdge;
  const credentials = await createTunnel(iadEdge, 'app', [HOST], 'localhost');
  connector = await startConnector({ ...credentials, edge: iad.tunnel }, { ingress: [{ service: origin.url }] });
  caPem = await readFile(path.join(net0.caDir, 'ca.pem'), 'utf8');
  await eventually(async () => (await visitFra('/warm-up').catch(() => 0)) === 200, 30_000, 'fra carrying requests to iad');
});
after(() => stopAll(() => connector?.stop(0), () => origin?.close(), () => net0?.stop()));

const peer = () => net0.pops.get('fra')!.peer;

/** Connections open at fra's link listener (iad's link to fra is one of them). */
function peerConnections(): Promise<number> {
  const listeners = (net0.pops.get('fra')!.edge as unknown as { pluginListeners: Map<string, { server: net.Server }> }).pluginListeners;
  const server = listeners.get('peer')!.server;
  return new Promise((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
}

function visitFra(urlPath: string): Promise<number> {
  const url = new URL(`http://${net0.pops.get('fra')!.http}`);
  return new Promise((resolve, reject) => {
    http
      .get({ host: url.hostname, port: url.port, path: urlPath, headers: { host: HOST }, agent: false, timeout: 20_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

async function assertHealthy(): Promise<void> {
  const urlPath = `/check-${++checks}`;
  const before = seen.length;
  await eventually(async () => (await visitFra(urlPath).catch(() => 0)) === 200, 20_000, 'a visitor at fra served');
  assert.deepEqual(seen.slice(before), [`GET ${urlPath} fra,iad`], 'the origin saw exactly the visitor request, over the link');
}

const count = (msg: RegExp) => lines.filter((line) => msg.test(line.msg)).length;

function rawClosed(data: Buffer | string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(target(peer()));
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

/** TLS to fra's peer port with `cert`; writes the client preface and `frames`, and resolves true when fra closes. */
function tlsFlood(cert: { keyPem: string; certPem: string } | undefined, frames: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ ...target(peer()), ca: caPem, key: cert?.keyPem, cert: cert?.certPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 30_000);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('secureConnect', () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0)), frames]));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Opens `n` TLS handshakes to fra's link listener, 50 at a time, half dropped mid-handshake and half right after it. */
async function dropHandshakes(cert: { keyPem: string; certPem: string }, n: number): Promise<void> {
  for (let opened = 0; opened < n; opened += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - opened) }, (_, i) =>
        new Promise<void>((resolve) => {
          const socket = tls.connect({ ...target(peer()), ca: caPem, key: cert.keyPem, cert: cert.certPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
          socket.on('error', () => undefined);
          const done = () => {
            socket.destroy();
            resolve();
          };
          if (i % 2) setImmediate(done);
          else socket.once('secureConnect', done);
          socket.once('close', () => resolve());
        }),
      ),
    );
  }
}

/** A full collection, so that heap figures are what is kept rather than garbage not yet collected. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

async function popCertificate(name: string) {
  const keyPem = await readFile(path.join(net0.caDir, 'ca.key'), 'utf8');
  return issuePopCertificate({ keyPem, certPem: caPem }, name);
}

const many = (n: number, make: (i: number) => Buffer) => Buffer.concat(Array.from({ length: n }, (_, i) => make(i)));

describe('PoP links: hostile peers', () => {
  it('garbage bytes: closed, refusal logged', async () => {
    const before = count(/refused a PoP link/);
    assert.equal(await rawClosed(Buffer.alloc(2048, 0x17)), true);
    await eventually(() => count(/refused a PoP link/) > before, 5_000, 'the refusal logged');
    await assertHealthy();
  });

  it('TLS without a certificate: refused', async () => {
    const before = count(/certificate is not from the network CA/);
    assert.equal(await tlsFlood(undefined, Buffer.alloc(0)), true);
    await eventually(() => count(/certificate is not from the network CA/) > before, 5_000, 'the refusal logged as a certificate refusal');
    await assertHealthy();
  });

  it('a PoP certificate from a foreign CA: refused', async () => {
    const foreign = await createCertificateAuthority({ commonName: 'Foreign network' });
    const before = count(/certificate is not from the network CA/);
    assert.equal(await tlsFlood(await issuePopCertificate(foreign, 'iad'), Buffer.alloc(0)), true);
    await eventually(() => count(/certificate is not from the network CA/) > before, 5_000, 'the refusal logged as a certificate refusal');
    await assertHealthy();
  });

  it('1,000 TLS handshakes opened and dropped, 50 at a time: no connection left behind, memory bounded, the link stays up', async (t) => {
    const cert = await popCertificate('ewr');
    const linksBefore = await peerConnections();
    const lost = () => count(/PoP link lost/);
    const lostBefore = lost();
    const certificateRefusals = () => count(/certificate is not from the network CA/);
    const refusalsBefore = certificateRefusals();
    // A first hundred, so that what TLS allocates once is not counted as growth.
    await dropHandshakes(cert, 100);
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    await dropHandshakes(cert, 1_000);
    await eventually(async () => (await peerConnections()) === linksBefore, 30_000, `fra's link listener back to its ${linksBefore} connection(s)`);
    collectGarbage();
    const heap = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const rss = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    // Loose bounds (the whole network runs in this process, and the captured log keeps a line per handshake): what
    // stays must not scale with 1,000 handshakes. RSS moves with the allocator's arenas, so only a sanity bound.
    assert.ok(heap < 16, `the heap kept ${heap.toFixed(1)} MiB`);
    assert.ok(rss < 128, `the process grew by ${rss.toFixed(1)} MiB`);
    assert.equal(lost(), lostBefore, 'no PoP link was lost');
    assert.equal(certificateRefusals(), refusalsBefore, 'a peer that hung up is not logged as showing a foreign certificate');
    t.diagnostic(`${count(/refused a PoP link: its TLS handshake failed/)} handshakes logged as failed, ${lines.filter((l) => l.msg === 'incoming PoP link closed on an error').length} links closed on an error, heap ${heap.toFixed(1)} MiB and RSS ${rss.toFixed(1)} MiB more`);
    await assertHealthy();
  });

  describe('floods from a real PoP certificate', () => {
    const reasons = () => lines.filter((line) => line.msg === 'incoming PoP link closed on an error');
    for (const [name, frames] of [
      ['PING flood', () => many(100_000, () => frame(6, 0, 0, Buffer.alloc(8)))],
      ['SETTINGS flood', () => many(100_000, () => frame(4, 0, 0, Buffer.from([0, 4, 0, 0, 0xff, 0xff])))],
      ['RST_STREAM flood on idle streams', () => many(50_000, (i) => frame(3, 0, 2 * i + 1, Buffer.from([0, 0, 0, 8])))],
      ['WINDOW_UPDATE of 0', () => many(100, () => frame(8, 0, 0, Buffer.alloc(4)))],
      // A request HEADERS without END_HEADERS, then CONTINUATION frames that never end its header block.
      ['CONTINUATION flood without END_HEADERS', () => Buffer.concat([frame(1, 0, 1, Buffer.from([0x82])), many(50_000, () => frame(9, 0, 1, Buffer.alloc(16, 0x40)))])],
    ] as const) {
      it(`${name}: the link is closed, one line says why`, async () => {
        const before = reasons().length;
        assert.equal(await tlsFlood(await popCertificate('ewr'), frames()), true);
        await eventually(() => reasons().length > before, 10_000, 'the closed link logged');
        assert.equal(reasons().length, before + 1, 'one line');
        assert.ok(String(reasons().at(-1)!.reason).length > 0);
        await assertHealthy();
      });
    }
  });
});

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}
