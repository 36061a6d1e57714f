// Hostile request framing on the visitor listener: every ambiguous body is refused and closes the connection, so no
// request can be smuggled to an origin behind another one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/harness.ts';
import { startHostileWorld, type HostileWorld } from './world.ts';

let world: HostileWorld;
before(async () => {
  world = await startHostileWorld();
});
after(() => world?.stop());

const HOST = 'Host: a.example.test';
/** A request behind the hostile one on the same connection: it must never reach an origin. */
const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${HOST}\r\n\r\n`;
const post = (...headers: string[]) => `POST /upload HTTP/1.1\r\n${HOST}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;

describe('visitor framing: Content-Length and Transfer-Encoding together', () => {
  it('CL.TE: Content-Length then Transfer-Encoding is refused (400)', async () => {
    await world.refuses(`${post('Content-Length: 6', 'Transfer-Encoding: chunked')}0\r\n\r\n${SMUGGLED}`, 400);
  });

  it('TE.CL: Transfer-Encoding then Content-Length is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding: chunked', 'Content-Length: 4')}5c\r\n${SMUGGLED}\r\n0\r\n\r\n`, 400);
  });

  it('TE.TE: a space before the colon of Transfer-Encoding is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding : chunked', 'Content-Length: 5')}0\r\n\r\n${SMUGGLED}`, 400);
  });

  it('TE.TE: Transfer-Encoding: chunked plus a second Transfer-Encoding: identity is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding: chunked', 'Transfer-Encoding: identity')}0\r\n\r\n${SMUGGLED}`, 400);
  });

  it('TE.TE: an obfuscated coding name (xchunked) is refused (501), not read to the close', async () => {
    await world.refuses(`${post('Transfer-Encoding: xchunked')}0\r\n\r\n${SMUGGLED}`, 501);
  });

  it('TE.TE: a quoted coding ("chunked") is refused (501)', async () => {
    await world.refuses(`${post('Transfer-Encoding: "chunked"')}0\r\n\r\n${SMUGGLED}`, 501);
  });

  it('Transfer-Encoding: chunked, identity is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding: chunked, identity')}0\r\n\r\n${SMUGGLED}`, 400);
  });

  it('an unknown coding (gzip) is refused (501)', async () => {
    await world.refuses(`${post('Transfer-Encoding: gzip')}0\r\n\r\n`, 501);
  });

  it('gzip, chunked is refused (501): the origin would get a gzip body it was never told about', async () => {
    await world.refuses(`${post('Transfer-Encoding: gzip, chunked')}3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, 501);
  });

  it('chunked followed by another coding (chunked, gzip) is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding: chunked, gzip')}0\r\n\r\n${SMUGGLED}`, 400);
  });

  it('Transfer-Encoding on an HTTP/1.0 request is refused (400) and what follows is never read', async () => {
    await world.refuses(`POST /old HTTP/1.0\r\n${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, 400);
  });

  it('Transfer-Encoding and Content-Length on an HTTP/1.0 request are refused (400)', async () => {
    await world.refuses(`POST /old HTTP/1.0\r\n${HOST}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 400);
  });
});

describe('visitor framing: Content-Length values', () => {
  it('two Content-Length headers with the same value are refused (400)', async () => {
    await world.refuses(`${post('Content-Length: 3', 'Content-Length: 3')}abc${SMUGGLED}`, 400);
  });

  it('two Content-Length headers with different values are refused (400)', async () => {
    await world.refuses(`${post('Content-Length: 3', 'Content-Length: 40')}abc${SMUGGLED}`, 400);
  });

  it('a Content-Length list (3, 3) is refused (400)', async () => {
    await world.refuses(`${post('Content-Length: 3, 3')}abc`, 400);
  });

  for (const value of ['+5', '-1', '0x10', '1e2', '5 5', '']) {
    it(`Content-Length: ${JSON.stringify(value)} is refused (400)`, async () => {
      await world.refuses(`${post(`Content-Length: ${value}`)}abcde${SMUGGLED}`, 400);
    });
  }
});

describe('visitor framing: header syntax', () => {
  it('obs-fold (a header line starting with a space) is refused (400)', async () => {
    await world.refuses(`GET /fold HTTP/1.1\r\n${HOST}\r\nX-A: 1\r\n X-Injected: 2\r\n\r\n`, 400);
  });

  it('obs-fold with a tab is refused (400)', async () => {
    await world.refuses(`GET /fold HTTP/1.1\r\n${HOST}\r\nX-A: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n`, 400);
  });

  it('bare LF line endings are refused (400)', async () => {
    await world.refuses(`GET /lf HTTP/1.1\n${HOST}\nX-A: 1\n\n`, 400);
  });

  it('a NUL in a header value is refused (400)', async () => {
    await world.refuses(`GET /nul HTTP/1.1\r\n${HOST}\r\nX-A: a\0b\r\n\r\n`, 400);
  });

  it('a bare CR in a header value is refused (400)', async () => {
    await world.refuses(`GET /cr HTTP/1.1\r\n${HOST}\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\n`, 400);
  });

  it('a bare CR ending the request line is refused (400)', async () => {
    await world.refuses(`GET /cr HTTP/1.1\r${HOST}\r\n\r\n`, 400);
  });

  it('a malformed request line (HTTP/9.9, a method with "@") is refused (400)', async () => {
    await world.refuses(`GET / HTTP/9.9\r\n${HOST}\r\n\r\n`, 400);
    await world.refuses(`G@T / HTTP/1.1\r\n${HOST}\r\n\r\n`, 400);
  });

  it('TLS or HTTP/2 bytes on the plain listener are refused (400)', async () => {
    await world.refuses(Buffer.from('16030100a5010000a10303', 'hex'), 400);
    await world.refuses('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400);
  });
});

describe('visitor framing: chunked bodies', () => {
  it('a non-hex chunk size is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding: chunked')}zz\r\nabc\r\n0\r\n\r\n`, 400);
  });

  it('an overflowing chunk size is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding: chunked')}ffffffffffffffffff\r\nabc\r\n0\r\n\r\n`, 400);
  });

  it('a negative chunk size is refused (400)', async () => {
    await world.refuses(`${post('Transfer-Encoding: chunked')}-1\r\nabc\r\n0\r\n\r\n`, 400);
  });

  it('chunk data longer than its declared size closes the connection and nothing behind it is read', async () => {
    world.reset();
    // The parser sees the request head and the first 3 bytes before the framing breaks, so the origin may have
    // begun receiving this upload; what it must never see is the request smuggled in the chunk.
    const result = await world.send(`${post('Transfer-Encoding: chunked')}3\r\nabc${SMUGGLED}\r\n0\r\n\r\n`, { timeoutMs: 15_000 });
    assert.ok(result.closed, 'the edge closed the connection');
    assert.ok(result.status === 400 || result.status === 0 || result.status === 502, `refused or cut (got ${result.status})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const complete = world.seenA.filter((s) => s.url === '/upload' && s.body !== 'abc');
    assert.deepEqual(complete, [], 'the origin never got a body with the extra bytes in it');
    world.seenA.splice(0, world.seenA.length, ...world.seenA.filter((s) => s.url !== '/upload'));
    await world.assertHealthy();
  });
});

describe('visitor framing: what is carried, and pipelining', () => {
  it('a well-formed chunked upload (CHUNKED in capitals) and a pipelined GET both arrive exactly as sent', async () => {
    world.reset();
    const result = await world.send(`${post('Transfer-Encoding: CHUNKED')}3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /next HTTP/1.1\r\n${HOST}\r\n\r\n`, { responses: 2, timeoutMs: 15_000 });
    assert.deepEqual(result.responses.map((r) => r.status), [200, 200]);
    assert.deepEqual(result.responses.map((r) => r.text), ['A POST /upload', 'A GET /next']);
    assert.equal(world.seenA.find((s) => s.url === '/upload')?.body, 'abcde');
    await world.assertHealthy(['POST /upload', 'GET /next']);
  });

  it('a Content-Length body with pipelined bytes after it: the body is exactly Content-Length bytes', async () => {
    world.reset();
    const result = await world.send(`${post('Content-Length: 3')}abcGET /next HTTP/1.1\r\n${HOST}\r\n\r\n`, { responses: 2, timeoutMs: 15_000 });
    assert.deepEqual(result.responses.map((r) => r.status), [200, 200]);
    assert.equal(world.seenA.find((s) => s.url === '/upload')?.body, 'abc');
    await world.assertHealthy(['POST /upload', 'GET /next']);
  });

  it('requests pipelined behind a refused one are never answered nor forwarded', async () => {
    const result = await world.refuses(`GET /first HTTP/1.1\r\nHost: a.example.test\r\nHost: a.example.test\r\n\r\nGET /second HTTP/1.1\r\n${HOST}\r\n\r\n${SMUGGLED}`, 400);
    assert.doesNotMatch(result.raw.toString('latin1'), /A GET/);
  });

  it('requests pipelined behind one the parser refused are never answered nor forwarded', async () => {
    const result = await world.refuses(`GET /first HTTP/1.1\r\n${HOST}\r\nX-A: a\0\r\n\r\nGET /second HTTP/1.1\r\n${HOST}\r\n\r\n${SMUGGLED}`, 400);
    assert.doesNotMatch(result.raw.toString('latin1'), /A GET/);
  });

  it('a good request, then a refused one on the same connection: the first is answered, nothing after the refusal', async () => {
    world.reset();
    const result = await world.send(`GET /good HTTP/1.1\r\n${HOST}\r\n\r\n${post('Content-Length: 1', 'Transfer-Encoding: chunked')}0\r\n\r\n${SMUGGLED}`, { timeoutMs: 15_000 });
    assert.ok(result.closed);
    assert.equal(result.responses[0]?.status, 200);
    await eventually(() => world.seenA.length === 1, 5_000, 'the good request');
    await world.assertHealthy(['GET /good']);
  });
});
