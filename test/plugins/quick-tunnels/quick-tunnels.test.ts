// Quick tunnel hostnames and the per-address creation limit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quickHostname } from '../../../plugins/quick-tunnels/names.ts';
import { CreationRateLimit } from '../../../plugins/quick-tunnels/rate-limit.ts';

describe('quickHostname', () => {
  it('is one valid DNS label under the zone, and different each time', () => {
    const names = new Set(Array.from({ length: 200 }, () => quickHostname('quick.example.test')));
    assert.ok(names.size > 195);
    for (const name of names) assert.match(name, /^[a-z]+-[a-z]+-[a-z2-9]{6}\.quick\.example\.test$/);
  });
});

describe('CreationRateLimit', () => {
  it('allows `limit` per window per client, says how long to wait, and resets with the window', () => {
    let now = 0;
    const limit = new CreationRateLimit(2, 60_000, () => now);
    assert.equal(limit.take('a'), 0);
    assert.equal(limit.take('a'), 0);
    now = 15_000;
    assert.equal(limit.take('a'), 45_000);
    assert.equal(limit.take('b'), 0, 'another client has its own budget');
    now = 60_000;
    assert.equal(limit.take('a'), 0);
  });
});
