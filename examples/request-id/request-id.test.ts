// The request-id example, loaded by relative path, next to a real origin, through the test kit.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestKit, type TestKit } from 'burrow/testing';

let origin: http.Server;
let kit: TestKit;
let trusting: TestKit;

before(async () => {
  origin = http.createServer((req, res) => res.end(String(req.headers['x-request-id'])));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const service = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  kit = await createTestKit({ configDir: import.meta.dirname, plugins: ['./index.ts'], ingress: [{ service }] });
  trusting = await createTestKit({ configDir: import.meta.dirname, plugins: [{ use: './index.ts', options: { trustIncoming: true } }], ingress: [{ service }] });
});

after(async () => {
  await kit.close();
  await trusting.close();
  origin.close();
});

describe('request-id example', () => {
  it('sends the ray id to the origin and back to the visitor', async () => {
    const res = await kit.inject({ headers: { 'x-request-id': 'forged' } });
    assert.equal(res.text, res.ray);
    assert.equal(res.headers['x-request-id'], res.ray);
  });

  it('keeps a well-formed incoming id when told to', async () => {
    const res = await trusting.inject({ headers: { 'x-request-id': 'lb-1234' } });
    assert.equal(res.text, 'lb-1234');
    assert.equal(res.headers['x-request-id'], 'lb-1234');
  });
});
