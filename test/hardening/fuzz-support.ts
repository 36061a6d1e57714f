// Shared by the fuzz tests: how many runs each property gets, and a guard that fails the file when a promise
// rejection goes unhandled while it runs.
import assert from 'node:assert/strict';
import { after } from 'node:test';

/** Runs per property (fast-check's default is 100). */
export const RUNS = 10_000;

/**
 * Records every unhandled rejection from here on, and fails the file in its `after` hook if there was one.
 * Call once at the top of a test file.
 */
export function failOnUnhandledRejection(): void {
  const seen: unknown[] = [];
  const record = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', record);
  after(() => {
    process.off('unhandledRejection', record);
    assert.deepEqual(
      seen.map((reason) => (reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason))),
      [],
      'unhandled promise rejections',
    );
  });
}

/** The error's class name and message, for assertion messages. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message}\n${error.stack ?? ''}` : `non-Error thrown: ${String(error)}`;
}
