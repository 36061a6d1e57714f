// Assertions on the errors users see: what was refused, and for config errors which file, which key path, what to do.
import assert from 'node:assert/strict';
import { ConfigError } from '../../core/kernel/errors.ts';

/** What `promise` rejected with, asserted to be a `type`; fails the test when it resolved instead. */
export async function rejectionOf<E>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected a ${type.name}, but it was not refused`);
}

/** Asserts `promise` rejects with a ConfigError naming the file, the key path (when given) and a fix. */
export async function assertConfigError(promise: Promise<unknown>, expected: { file: string; keyPath?: string; includes?: Array<string | RegExp> }): Promise<ConfigError> {
  const caught = await rejectionOf(promise, ConfigError);
  const { message } = caught;
  assert.equal(caught.code, 'BURROW_ERR_CONFIG');
  assert.ok(message.startsWith(`${expected.file}: `), `"${message}" does not start with the file ${expected.file}`);
  if (expected.keyPath !== undefined) {
    assert.equal(caught.keyPath, expected.keyPath);
    assert.ok(message.startsWith(`${expected.file}: ${expected.keyPath}: `), `"${message}" does not name ${expected.keyPath} after the file`);
  }
  assert.ok(message.includes('Fix: '), `"${message}" has no "Fix:"`);
  for (const part of expected.includes ?? []) {
    if (typeof part === 'string') assert.ok(message.includes(part), `"${message}" lacks "${part}"`);
    else assert.match(message, part);
  }
  return caught;
}
