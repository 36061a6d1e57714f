// The rate-limit plugin: token buckets (with a fake clock) and 429 + Retry-After per visitor IP through the test kit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestKit, type TestKit } from '../../../core/testing/index.ts';
import { TokenBuckets, rateLimitOptions } from '../../../plugins/rate-limit/index.ts';
import { startEchoOrigin } from '../../helpers/echo-origin.ts';
import type { TestOrigin } from '../../helpers/harness.ts';

describe('TokenBuckets', () => {
  it('allows a burst, then refills at the configured rate', () => {
    let now = 0;
    const buckets = new TokenBuckets(rateLimitOptions.parse({ perMinute: 60, burst: 3 }), () => now);
    assert.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a')], [0, 0, 0]);
    assert.equal(buckets.take('a'), 1, 'one token per second: retry in 1 s');
    assert.equal(buckets.take('b'), 0, 'another visitor has its own bucket');
    now += 1000;
    assert.equal(buckets.take('a'), 0);
    assert.equal(buckets.take('a'), 1);
  });

  it('defaults the burst to one minute of traffic and says how long to wait', () => {
    const buckets = new TokenBuckets(rateLimitOptions.parse({ perMinute: 2 }), () => 0);
    assert.equal(buckets.capacity, 2);
    buckets.take('a');
    buckets.take('a');
    assert.equal(buckets.take('a'), 30);
  });

  it('drops idle buckets when it holds too many', () => {
    let now = 0;
    const buckets = new TokenBuckets(rateLimitOptions.parse({ perSecond: 10, burst: 1, maxVisitors: 3 }), () => now);
    for (const ip of ['a', 'b', 'c']) buckets.take(ip);
    now += 10_000;
    buckets.take('d');
    assert.equal(buckets.size, 1);
  });
});

describe('rate-limit plugin', () => {
  let origin: TestOrigin;
  let kit: TestKit;

  before(async () => {
    origin = await startEchoOrigin();
    kit = await createTestKit({ plugins: [{ use: 'rate-limit', options: { perMinute: 2 } }], ingress: [{ service: origin.url }] });
  });

  after(async () => {
    await kit.close();
    await origin.close();
  });

  it('answers 429 with Retry-After once a visitor used its tokens, per visitor IP', async () => {
    assert.equal((await kit.inject({ clientIp: '203.0.113.5' })).status, 200);
    assert.equal((await kit.inject({ clientIp: '203.0.113.5' })).status, 200);
    const limited = await kit.inject({ clientIp: '203.0.113.5' });
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${limited.headers['retry-after']}`);
    assert.equal((await kit.inject({ clientIp: '203.0.113.6' })).status, 200, 'another visitor is not limited');
  });

  it('needs exactly one rate', async () => {
    await assert.rejects(createTestKit({ plugins: [{ use: 'rate-limit', options: { burst: 5 } }] }), /expected exactly one of perMinute or perSecond/);
  });
});
