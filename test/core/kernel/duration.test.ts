// Tests for Go-style duration parsing: accepted forms, rejected forms and the errors they raise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DURATION_HINT, durationInputSchema, durationSchema, parseDuration } from '../../../core/kernel/duration.ts';
import { ConfigError } from '../../../core/kernel/errors.ts';

const valid: Array<[input: string | number, ms: number]> = [
  ['30s', 30_000],
  ['1m30s', 90_000],
  ['1h', 3_600_000],
  ['500ms', 500],
  ['1.5s', 1_500],
  ['1.1s', 1_100],
  ['.5s', 500],
  ['0s', 0],
  ['0', 0],
  ['1h2m3.5s', 3_723_500],
  ['1500us', 1.5],
  ['1500µs', 1.5],
  ['2000000ns', 2],
  ['+5s', 5_000],
  [' 10s ', 10_000],
  ['30', 30_000],
  ['2.5', 2_500],
  [30, 30_000],
  [0.25, 250],
  [0, 0],
];

const invalid: Array<[input: unknown, detail: string]> = [
  ['', 'not a valid duration'],
  ['abc', 'not a valid duration'],
  ['30x', 'unknown unit "x"'],
  ['5 sec', 'unknown unit " sec"'],
  ['1m30', 'missing unit after "30"'],
  ['-1s', 'negative'],
  [-1, 'negative'],
  [Number.NaN, 'not a valid duration'],
  [Number.POSITIVE_INFINITY, 'not a valid duration'],
  ['1.2.3s', 'missing unit'],
  [true, 'not a valid duration'],
];

describe('parseDuration', () => {
  for (const [input, ms] of valid) {
    it(`${JSON.stringify(input)} is ${ms}ms`, () => {
      assert.equal(parseDuration(input, 'x'), ms);
    });
  }

  for (const [input, detail] of invalid) {
    it(`rejects ${String(JSON.stringify(input))}`, () => {
      assert.throws(
        () => parseDuration(input as string, 'originRequest.connectTimeout'),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.code, 'BURROW_ERR_CONFIG');
          assert.equal(error.keyPath, 'originRequest.connectTimeout');
          assert.equal(error.hint, DURATION_HINT);
          assert.match(error.message, /^originRequest\.connectTimeout: /);
          assert.ok(error.message.includes(detail), error.message);
          assert.ok(error.message.includes('Fix: use a Go-style duration such as "30s"'), error.message);
          return true;
        },
      );
    });
  }
});

describe('durationSchema', () => {
  for (const [input, ms] of valid) {
    it(`parses ${JSON.stringify(input)} to ${ms}ms`, () => {
      assert.equal(durationSchema.parse(input), ms);
    });
  }

  for (const [input, detail] of invalid) {
    it(`reports ${String(JSON.stringify(input))} with a fix`, () => {
      const result = durationSchema.safeParse(input);
      assert.equal(result.success, false);
      const message = result.error!.issues[0]!.message;
      assert.ok(message.includes(detail), message);
      assert.ok(message.includes(DURATION_HINT), message);
    });
  }
});

describe('durationInputSchema', () => {
  it('keeps a valid duration as written, so a merged layer can be validated again', () => {
    assert.equal(durationInputSchema.parse('1m30s'), '1m30s');
    assert.equal(durationInputSchema.parse(5), 5);
  });

  it('rejects what durationSchema rejects', () => {
    for (const [input] of invalid) assert.equal(durationInputSchema.safeParse(input).success, false, String(input));
  });
});
