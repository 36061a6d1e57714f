// The WAN emulator's relay: bytes intact and in order, delays per direction (changeable), a late target, backpressure, half-close and close.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, it } from 'node:test';
import { DelayRelay } from '../../../../plugins/network/dev/relay.ts';

const MiB = 1024 * 1024;
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
const relays: DelayRelay[] = [];

async function server(onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server; address: string }> {
  const srv = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { server: srv, address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}` };
}

const echo = () => server((socket) => socket.pipe(socket));

async function relay(options: Parameters<typeof DelayRelay.start>[0]): Promise<DelayRelay> {
  const r = await DelayRelay.start(options);
  relays.push(r);
  return r;
}

async function connect(address: string): Promise<net.Socket> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port), allowHalfOpen: true });
  socket.setNoDelay(true);
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Sends `text` and resolves with the milliseconds until as many bytes came back. */
function roundTrip(socket: net.Socket, text = 'ping'): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    const started = performance.now();
    const onData = (data: Buffer) => {
      got += data.length;
      if (got < text.length) return;
      socket.off('data', onData);
      resolve(performance.now() - started);
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

const closed = (socket: net.Socket) => (socket.destroyed ? Promise.resolve() : new Promise<void>((resolve) => socket.once('close', () => resolve())));
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(relays.splice(0).map((r) => r.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('DelayRelay', () => {
  it('carries 5 MiB each way intact and in order, with half-close in both directions', async () => {
    const up = randomBytes(5 * MiB);
    const down = randomBytes(5 * MiB);
    let received!: (data: Promise<Buffer>) => void;
    const gotUpload = new Promise<Buffer>((resolve) => (received = (data) => resolve(data)));
    const target = await server((socket) => {
      const data = readAll(socket);
      received(data);
      // Answers only after the client's half-close came through, so the end travels behind the data.
      void data.then(() => socket.end(down));
    });
    const r = await relay({ target: target.address, forwardMs: 5, backwardMs: 5 });
    const client = await connect(r.address);
    const answer = readAll(client);
    client.end(up);
    const [gotUp, gotDown] = await Promise.all([gotUpload, answer]);
    assert.equal(gotUp.length, up.length);
    assert.equal(sha(gotUp), sha(up));
    assert.equal(gotDown.length, down.length);
    assert.equal(sha(gotDown), sha(down));
    await closed(client);
    await eventually(() => r.stats().connections === 0, 'the relay retired the connection');
  });

  it('delays a round trip by forward + backward, and setDelay changes it for new bytes', async () => {
    const target = await echo();
    const r = await relay({ target: target.address, forwardMs: 40, backwardMs: 25 });
    const client = await connect(r.address);
    await roundTrip(client); // the relay's own connection to the target is made by now
    const slow = Math.min(await roundTrip(client), await roundTrip(client));
    assert.ok(slow >= 65, `round trip ${slow.toFixed(1)} ms, expected at least 65`);
    assert.ok(slow < 65 + 30, `round trip ${slow.toFixed(1)} ms, expected close to 65`);

    r.setDelay({ forwardMs: 5 });
    assert.deepEqual(r.delay, { forwardMs: 5, backwardMs: 25 });
    r.setDelay({ backwardMs: 10 });
    const fast = Math.min(await roundTrip(client), await roundTrip(client));
    assert.ok(fast >= 15, `round trip ${fast.toFixed(1)} ms, expected at least 15`);
    assert.ok(fast < 15 + 30, `round trip ${fast.toFixed(1)} ms, expected close to 15`);
  });

  it('keeps bytes in order when the delay drops while some are held', async () => {
    const target = await echo();
    const r = await relay({ target: target.address, forwardMs: 80 });
    const client = await connect(r.address);
    const answer = readAll(client);
    client.write('first,');
    await sleep(10);
    r.setDelay({ forwardMs: 0 });
    client.write('second');
    client.end();
    assert.equal((await answer).toString(), 'first,second');
  });

  it('holds a connection made before the target is known, and serves it once setTarget is called', async () => {
    const r = await relay({ forwardMs: 5, backwardMs: 5 });
    assert.equal(r.target, undefined);
    const client = await connect(r.address);
    const answer = readAll(client);
    client.write('early bytes;');
    await sleep(50);
    const target = await echo();
    r.setTarget(target.address);
    assert.equal(r.target, target.address);
    client.end('late bytes');
    assert.equal((await answer).toString(), 'early bytes;late bytes');
  });

  it('stops reading a side while the bound is queued toward a slow reader, and resumes as it drains', async () => {
    const bound = 1 * MiB;
    let targetSocket: net.Socket | undefined;
    let connectedNow!: () => void;
    const connected = new Promise<void>((resolve) => (connectedNow = resolve));
    const target = await server((socket) => {
      socket.pause(); // a reader that does not read
      targetSocket = socket;
      connectedNow();
    });
    const relayed = await relay({ target: target.address, forwardMs: 2, backwardMs: 2, maxQueuedBytes: bound });
    const client = await connect(relayed.address);
    const payload = randomBytes(48 * MiB);
    // Write until the client's own buffer pushes back, as a sender would.
    let offset = 0;
    const pump = () => {
      while (offset < payload.length) {
        const chunk = payload.subarray(offset, offset + 64 * 1024);
        offset += chunk.length;
        if (!client.write(chunk)) return void client.once('drain', pump);
      }
      client.end();
    };
    pump();
    await connected;
    await sleep(500);
    const stalled = relayed.stats();
    assert.ok(offset < payload.length, 'the sender was held back');
    assert.ok(stalled.queuedForward > bound / 2, `the relay holds ${stalled.queuedForward} bytes toward the slow reader`);
    assert.ok(stalled.peakQueued <= bound + 64 * 1024, `peak ${stalled.peakQueued} bytes queued, bound ${bound}`);

    // The reader wakes up: everything arrives, in order, and the bound held all along.
    const received = readAll(targetSocket!);
    targetSocket!.resume();
    const got = await received;
    assert.equal(got.length, payload.length);
    assert.equal(sha(got), sha(payload));
    assert.ok(relayed.stats().peakQueued <= bound + 64 * 1024, `peak ${relayed.stats().peakQueued} bytes queued, bound ${bound}`);
  });

  it('takes the other side down when one side fails', async () => {
    const target = await server((socket) => setTimeout(() => socket.resetAndDestroy(), 20));
    const r = await relay({ target: target.address, forwardMs: 1, backwardMs: 1 });
    const client = await connect(r.address);
    client.on('error', () => {});
    client.write('hello');
    await closed(client);
    await eventually(() => r.stats().connections === 0, 'the relay dropped the connection');
  });

  it('drops a connection whose target refuses it', async () => {
    const gone = await server(() => {});
    const address = gone.address;
    await new Promise((resolve) => gone.server.close(resolve));
    const r = await relay({ target: address });
    const client = await connect(r.address);
    client.on('error', () => {});
    await closed(client);
  });

  it('close() ends every connection and stops listening', async () => {
    let targetSide: net.Socket | undefined;
    const target = await server((socket) => {
      targetSide = socket;
      socket.pipe(socket);
    });
    const r = await relay({ target: target.address, forwardMs: 1, backwardMs: 1 });
    const client = await connect(r.address);
    client.on('error', () => {});
    await roundTrip(client);
    assert.equal(r.stats().connections, 1);
    await r.close();
    await closed(client);
    await closed(targetSide!);
    await assert.rejects(connect(r.address), /ECONNREFUSED/);
  });

  it('refuses bad delays and addresses', async () => {
    await assert.rejects(DelayRelay.start({ forwardMs: -1 }), /forwardMs/);
    await assert.rejects(DelayRelay.start({ target: 'nowhere' }), /host:port/);
    const r = await relay({});
    assert.throws(() => r.setDelay({ backwardMs: Number.NaN }), /backwardMs/);
    assert.throws(() => r.setTarget('127.0.0.1:99999'), /host:port/);
  });
});
