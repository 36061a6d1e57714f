// Assertions on the configuration errors users see: which file, which key path, what to do.
import assert from 'node:assert/strict';
import { ConfigError } from '../../core/kernel/errors.ts';

/** Asserts `promise` rejects with a ConfigError naming the file, the key path (when given) and a fix. */
export async function assertConfigError(promise: Promise<unknown>, expected: { file: string; keyPath?: string; includes?: Array<string | RegExp> }): Promise<ConfigError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught === undefined ? 'success' : String(caught)}`);
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
