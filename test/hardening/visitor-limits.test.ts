// Oversized and slow visitors: heads too large get 431, slow ones 408 after edge.visitorTimeouts, and neither costs
// the edge unbounded memory or the service of other visitors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/harness.ts';
import { trickle } from './raw.ts';
import { startHostileWorld, type HostileWorld } from './world.ts';

/** Default timeouts. */
let world: HostileWorld;
/** edge.visitorTimeouts shortened, so that the tests see them fire. */
let slow: HostileWorld;
const TIMEOUTS = { headers: '2s', request: '4s', idle: '5s' };

before(async () => {
  world = await startHostileWorld();
  slow = await startHostileWorld({ visitorTimeouts: TIMEOUTS });
});
after(async () => {
  await world?.stop();
  await slow?.stop();
});

const HOST = 'Host: a.example.test';
const bigHead = (bytes: number) => `GET /big HTTP/1.1\r\n${HOST}\r\nX-Big: ${'a'.repeat(bytes)}\r\n\r\n`;

describe('visitor limits: request heads', () => {
  it('a 64 KiB header block gets 431 and a close', async () => {
    await world.refuses(bigHead(64 * 1024), 431);
  });

  it('a 1 MiB header block gets 431 and a close', async () => {
    await world.refuses(bigHead(1024 * 1024), 431);
  });

  it('10,000 headers get 431 and a close', async () => {
    await world.refuses(`GET /many HTTP/1.1\r\n${HOST}\r\n${Array.from({ length: 10_000 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`, 431);
  });

  it('3,000 small headers (within the byte limit, past the field limit) get 431, not a silently shortened request', async () => {
    await world.refuses(`GET /many HTTP/1.1\r\n${HOST}\r\n${Array.from({ length: 3_000 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`, 431);
  });

  it('a Host after 2,000 other headers is not lost: 431, not a request without Host', async () => {
    await world.refuses(`GET /late-host HTTP/1.1\r\n${Array.from({ length: 2_100 }, (_, i) => `X-${i}: v\r\n`).join('')}Host: b.example.test\r\n\r\n`, 431);
  });

  it('a 100 KiB URL gets 414 or 431 and a close', async () => {
    await world.refuses(`GET /${'u'.repeat(100 * 1024)} HTTP/1.1\r\n${HOST}\r\n\r\n`, [414, 431]);
  });

  it('a head sent in many small pieces that grows past the limit gets 431', async () => {
    const pieces = [`GET /pieces HTTP/1.1\r\n${HOST}\r\n`, ...Array.from({ length: 50 }, (_, i) => `X-${i}: ${'p'.repeat(1024)}\r\n`)];
    await world.refuses(pieces, 431, { gapMs: 5 });
  });

  it("50 oversized heads are all answered 431 and closed, and the edge's memory stays bounded", async () => {
    const head = Buffer.from(bigHead(1024 * 1024), 'latin1');
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < 5; i++) await world.send(head, { timeoutMs: 15_000 });
    gc?.();
    const rssBefore = world.edgeProcessRss();
    for (let i = 0; i < 50; i++) {
      const result = await world.send(head, { timeoutMs: 15_000 });
      assert.equal(result.status, 431, `request ${i}`);
      assert.ok(result.closed, `request ${i} closed`);
    }
    gc?.();
    const grown = (world.edgeProcessRss() - rssBefore) / 2 ** 20;
    // A loose sanity bound: 50 MiB of heads went in; what stays must not scale with them.
    assert.ok(grown < 64, `the edge grew by ${grown.toFixed(1)} MiB`);
    world.reset();
    await world.assertHealthy();
  });
});

describe('visitor limits: slow visitors', () => {
  it('a slow body (Content-Length, trickled) that completes within the request timeout is answered', async () => {
    world.reset();
    const result = await world.send([`POST /slow HTTP/1.1\r\n${HOST}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`, 'h', 'e', 'l', 'l', 'o'], { gapMs: 200, timeoutMs: 20_000 });
    assert.equal(result.status, 200);
    assert.equal(world.seenA.find((s) => s.url === '/slow')?.body, 'hello');
    await world.assertHealthy(['POST /slow']);
  });

  it(`a slow body past visitorTimeouts.request (${TIMEOUTS.request}) gets 408 and a close; the origin never gets a whole request`, async () => {
    slow.reset();
    const bytes = Array.from({ length: 60 }, () => 'x');
    const result = await slow.send([`POST /too-slow HTTP/1.1\r\n${HOST}\r\nContent-Length: 100\r\n\r\n`, ...bytes], { gapMs: 250, timeoutMs: 30_000 });
    assert.ok(result.closed, 'the edge closed the connection');
    assert.equal(result.status, 408, result.raw.toString('latin1').slice(0, 200));
    assert.match(result.responses[0]!.text, /Ray ID/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(slow.seenA.filter((s) => s.url === '/too-slow'), [], 'no complete request reached the origin');
    slow.reset();
    await slow.assertHealthy();
  });

  it(`a request head not finished within visitorTimeouts.headers (${TIMEOUTS.headers}) gets 408 and a close`, async () => {
    await slow.refuses([`GET /unfinished HTTP/1.1\r\n${HOST}\r\n`], 408, { timeoutMs: 30_000 });
  });

  it(`an idle keep-alive connection is closed after visitorTimeouts.idle (${TIMEOUTS.idle})`, async () => {
    slow.reset();
    const result = await slow.send(`GET /keep HTTP/1.1\r\n${HOST}\r\n\r\n`, { timeoutMs: 30_000 });
    assert.equal(result.responses.length, 1);
    assert.equal(result.status, 200);
    assert.ok(result.closed, 'the edge closed the idle connection');
    await slow.assertHealthy(['GET /keep']);
  });

  it(`a keep-alive connection idle past visitorTimeouts.headers (${TIMEOUTS.headers}) but within idle still serves its next request`, async () => {
    slow.reset();
    const result = await slow.send([`GET /first HTTP/1.1\r\n${HOST}\r\n\r\n`, `GET /second HTTP/1.1\r\n${HOST}\r\n\r\n`], { gapMs: 3_000, responses: 2, timeoutMs: 30_000 });
    assert.deepEqual(result.responses.map((r) => r.status), [200, 200]);
    await slow.assertHealthy(['GET /first', 'GET /second']);
  });

  it('slowloris: 500 connections trickling header bytes are all closed after visitorTimeouts.headers, and others keep their latency meanwhile', async (t) => {
    slow.reset();
    const before = slow.refusalLines().filter((l) => l.status === 408).length;
    const lorises: Array<ReturnType<typeof trickle>> = [];
    const timed: string[] = [];
    /** The median time of 10 normal requests, one after another, each answered 200. */
    const medianLatency = async (name: string) => {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const path = `/${name}-${i}`;
        const started = performance.now();
        const result = await slow.send(`GET ${path} HTTP/1.1\r\n${HOST}\r\nConnection: close\r\n\r\n`, { timeoutMs: 30_000 });
        times.push(performance.now() - started);
        assert.equal(result.status, 200, `${path} served`);
        timed.push(`GET ${path}`);
      }
      return times.sort((a, b) => a - b)[5]!;
    };
    let closed = 0;
    try {
      const quiet = await medianLatency('before');
      // In batches, so that the listen backlog never overflows on a loaded machine.
      for (let batch = 0; batch < 10; batch++) {
        const opened = Array.from({ length: 50 }, (_, i) => trickle(slow.address, `GET /loris-${batch * 50 + i} HTTP/1.1\r\n${HOST}\r\nX-Slow: `, 200));
        lorises.push(...opened);
        for (const loris of opened) void loris.closed.then(() => closed++);
        await Promise.all(opened.map((l) => l.connected));
      }
      const openAtStart = lorises.length - closed;
      const loaded = await medianLatency('meanwhile');
      const openAtEnd = lorises.length - closed;
      const bound = Math.max(10 * quiet, 250);
      const figures = `median ${quiet.toFixed(1)} ms before, ${loaded.toFixed(1)} ms with ${openAtStart} to ${openAtEnd} connections trickling`;
      t.diagnostic(figures);
      assert.ok(loaded < bound, `normal requests kept their latency: ${figures} (bound ${bound.toFixed(0)} ms)`);
      await eventually(() => closed === lorises.length, 60_000, 'every trickling connection closed');
      const answered = lorises.filter((l) => l.received().startsWith('HTTP/1.1 408 ')).length;
      assert.equal(answered, lorises.length, 'each was answered 408');
      assert.equal(slow.refusalLines().filter((l) => l.status === 408).length - before, lorises.length, 'one log line each');
    } finally {
      for (const loris of lorises) loris.stop();
    }
    await slow.assertHealthy(timed);
  });
});
