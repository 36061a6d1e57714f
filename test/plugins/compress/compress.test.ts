// The compress plugin: negotiation, what it skips, and streamed gzip/br bodies through the test kit.
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createTestKit, type TestKit } from '../../../core/testing/index.ts';
import { negotiate } from '../../../plugins/compress/index.ts';
import { BIG_TEXT, startEchoOrigin } from '../../helpers/echo-origin.ts';
import type { TestOrigin } from '../../helpers/harness.ts';

describe('negotiate', () => {
  const cases: Array<[header: string | undefined, expected: string | undefined]> = [
    [undefined, undefined],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['*', 'br'],
    ['*;q=0, gzip;q=0.5', 'gzip'],
    ['identity', undefined],
    ['GZIP;q=0.001', 'gzip'],
  ];
  for (const [header, expected] of cases) it(`${header ?? '(none)'} -> ${expected ?? 'none'}`, () => assert.equal(negotiate(header, ['br', 'gzip']), expected));
});

describe('compress plugin', () => {
  let origin: TestOrigin;
  let kit: TestKit;

  before(async () => {
    origin = await startEchoOrigin();
    kit = await createTestKit({ plugins: ['compress'], ingress: [{ service: origin.url }] });
  });

  after(async () => {
    await kit.close();
    await origin.close();
  });

  it('gzips a large text response, weakening its ETag', async () => {
    const res = await kit.inject({ path: '/big', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(res.headers.vary, 'Accept-Encoding');
    assert.equal(res.headers.etag, 'W/"big-1"');
    assert.ok(res.body.length < BIG_TEXT.length / 10, `compressed to ${res.body.length} bytes`);
    assert.equal(gunzipSync(res.body).toString(), BIG_TEXT);
  });

  it('prefers br, and compresses a chunked response of unknown length', async () => {
    const res = await kit.inject({ path: '/chunked', headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(res.headers['content-encoding'], 'br');
    const text = brotliDecompressSync(res.body).toString();
    assert.equal(text.length > BIG_TEXT.length, true);
    assert.ok(text.startsWith(JSON.stringify(BIG_TEXT.slice(0, 4096))));
  });

  const skipped: Array<[what: string, path: string, accept: string | undefined, method?: string]> = [
    ['a visitor that accepts no encoding', '/big', undefined],
    ['a small response', '/small', 'gzip'],
    ['a non-compressible type', '/image', 'gzip'],
    ['an already encoded response', '/pre-encoded', 'br'],
    ['a HEAD request', '/big', 'gzip', 'HEAD'],
  ];
  for (const [what, path, accept, method] of skipped) {
    it(`leaves ${what} as it is`, async () => {
      const res = await kit.inject({ path, method, headers: accept ? { 'accept-encoding': accept } : {} });
      assert.equal(res.status, 200);
      if (path !== '/pre-encoded') assert.equal(res.headers['content-encoding'], undefined);
      else assert.equal(res.headers['content-encoding'], 'gzip');
      if (path === '/big' && method !== 'HEAD') assert.equal(res.text, BIG_TEXT);
      if (path === '/small') assert.equal(res.text, 'small');
    });
  }
});
