// The https visitor listener gets the same refusals and timeouts as the plain one.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, removeDir, tempDir } from '../helpers/harness.ts';
import { originCertificates } from '../helpers/tls.ts';
import { sendRaw, type RawOptions } from './raw.ts';
import { assertRefused, startHostileWorld, type HostileWorld } from './world.ts';

let world: HostileWorld;
let dir: string;
let ca: string;
before(async () => {
  dir = await tempDir('burrow-hostile-tls-');
  const certs = await originCertificates();
  ca = certs.caPem;
  await writeFile(path.join(dir, 'cert.pem'), certs.localhost.certPem);
  await writeFile(path.join(dir, 'key.pem'), certs.localhost.keyPem);
  world = await startHostileWorld({
    listen: { https: '127.0.0.1:0' },
    tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') },
    visitorTimeouts: { headers: '2s', request: '4s', idle: '2s' },
  });
});
after(async () => {
  await world?.stop();
  if (dir) await removeDir(dir);
});

const HOST = 'Host: a.example.test';
const overTls = (data: string | ReadonlyArray<string>, options: RawOptions = {}) => sendRaw(world.httpsAddress!, data, { tlsCa: ca, timeoutMs: 20_000, ...options });

async function refusedOverTls(data: string | ReadonlyArray<string>, status: number): Promise<void> {
  world.reset();
  const before = world.refusalLines().length;
  assertRefused(await overTls(data), status);
  await eventually(() => world.refusalLines().length > before, 5_000, 'the refusal logged');
  const served = await overTls(`GET /after HTTP/1.1\r\n${HOST}\r\nConnection: close\r\n\r\n`);
  assert.equal(served.status, 200);
  await world.assertHealthy(['GET /after']);
}

describe('visitor https listener', () => {
  it('serves a normal request, with X-Forwarded-Proto https', async () => {
    world.reset();
    const result = await overTls(`GET /tls HTTP/1.1\r\n${HOST}\r\nConnection: close\r\n\r\n`);
    assert.equal(result.status, 200);
    assert.equal(world.seenA[0]?.headers['x-forwarded-proto'], 'https');
    await world.assertHealthy(['GET /tls']);
  });

  it('two Host headers are refused (400) over TLS too', async () => {
    await refusedOverTls(`GET / HTTP/1.1\r\nHost: a.example.test\r\nHost: b.example.test\r\n\r\nGET /smuggled HTTP/1.1\r\n${HOST}\r\n\r\n`, 400);
  });

  it("a framing error Node's parser finds is answered with the edge's 400 page over TLS", async () => {
    await refusedOverTls(`POST / HTTP/1.1\r\n${HOST}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${HOST}\r\n\r\n`, 400);
  });

  it('a 64 KiB head gets 431 over TLS', async () => {
    await refusedOverTls(`GET / HTTP/1.1\r\n${HOST}\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`, 431);
  });

  it('an unfinished head gets 408 after visitorTimeouts.headers over TLS', async () => {
    await refusedOverTls([`GET /slow HTTP/1.1\r\n${HOST}\r\n`], 408);
  });
});
