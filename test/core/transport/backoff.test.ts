// Tests for reconnect backoff: 1 s base, 32 s cap, jitter within [ceiling/2, ceiling], and reset.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../../core/transport/backoff.ts';

/** Ceilings of the default schedule: 1 s doubling to the 32 s cap. */
const ceilings = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 32_000, 32_000];

describe('Backoff', () => {
  const extremes: Array<[name: string, random: number, expected: number[]]> = [
    ['random() = 0 gives half the ceiling', 0, ceilings.map((c) => c / 2)],
    ['random() just below 1 gives (almost) the ceiling', 0.999_999_9, ceilings],
    ['random() = 0.5 gives three quarters', 0.5, ceilings.map((c) => (c * 3) / 4)],
  ];
  for (const [name, value, expected] of extremes) {
    it(`defaults (base 1 s, cap 32 s): ${name}`, () => {
      const backoff = new Backoff({ random: () => value });
      assert.deepEqual(Array.from({ length: expected.length }, () => backoff.next()), expected);
    });
  }

  it('every delay with Math.random stays within [ceiling/2, ceiling]', () => {
    for (let run = 0; run < 200; run++) {
      const backoff = new Backoff();
      for (const [attempt, ceiling] of ceilings.entries()) {
        const delay = backoff.next();
        assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}: ${delay} ms is outside [${ceiling / 2}, ${ceiling}]`);
      }
    }
  });

  it('jitter spreads delays out (not every reconnect waits the same)', () => {
    const delays = new Set<number>();
    for (let i = 0; i < 50; i++) delays.add(new Backoff().next());
    assert.ok(delays.size > 1, 'fifty first delays were all identical');
  });

  it('never exceeds the cap, even after many attempts', () => {
    const backoff = new Backoff({ random: () => 0.999_999_9 });
    let delay = 0;
    for (let i = 0; i < 200; i++) delay = backoff.next();
    assert.equal(delay, 32_000);
    assert.ok(Number.isFinite(delay));
    assert.equal(backoff.attempts, 200);
  });

  it('counts attempts and reset() starts again from the base', () => {
    const backoff = new Backoff({ random: () => 0.999_999_9 });
    assert.equal(backoff.attempts, 0);
    for (let i = 0; i < 6; i++) backoff.next();
    assert.equal(backoff.attempts, 6);
    backoff.reset();
    assert.equal(backoff.attempts, 0);
    assert.equal(backoff.next(), 1_000);
    assert.equal(backoff.next(), 2_000);
  });

  const custom: Array<[name: string, options: { baseMs: number; capMs: number }, expected: number[]]> = [
    ['base 100 ms, cap 1 s (the test harness)', { baseMs: 100, capMs: 1_000 }, [100, 200, 400, 800, 1_000, 1_000]],
    ['a cap below the base caps the first delay', { baseMs: 5_000, capMs: 2_000 }, [2_000, 2_000]],
  ];
  for (const [name, options, expected] of custom) {
    it(name, () => {
      const backoff = new Backoff({ ...options, random: () => 0.999_999_9 });
      assert.deepEqual(Array.from({ length: expected.length }, () => backoff.next()), expected);
    });
  }

  it('delays are whole milliseconds', () => {
    const backoff = new Backoff({ random: () => 0.123_456_789 });
    for (let i = 0; i < 10; i++) assert.ok(Number.isInteger(backoff.next()));
  });
});
