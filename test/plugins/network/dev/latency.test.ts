// The dev network's latency matrix: YAML parsing, both directions from one pair, and errors that name the file and the key.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_POPS,
  defaultLatency,
  describeLatency,
  loadLatencyFile,
  normalizeLatency,
  oneWayDelay,
  parseLatency,
  sameLatency,
  watchLatencyFile,
  type LatencyMatrix,
} from '../../../../plugins/network/dev/latency.ts';

const pops = ['fra', 'lhr', 'ewr', 'iad'];

describe('parseLatency', () => {
  it('applies a-b to both directions, with durations in milliseconds', () => {
    const matrix = parseLatency('fra-lhr: 10ms\nlhr-ewr: 1.5s\n', pops);
    assert.deepEqual(matrix, { 'fra-lhr': 10, 'lhr-fra': 10, 'lhr-ewr': 1500, 'ewr-lhr': 1500 });
    assert.equal(oneWayDelay(matrix, 'fra', 'lhr'), 10);
    assert.equal(oneWayDelay(matrix, 'ewr', 'lhr'), 1500);
  });

  it('lets b-a set its own direction, in either order', () => {
    const expected = { 'fra-lhr': 10, 'lhr-fra': 30 };
    assert.deepEqual(parseLatency('fra-lhr: 10ms\nlhr-fra: 30ms\n', pops), expected);
    assert.deepEqual(parseLatency('lhr-fra: 30ms\nfra-lhr: 10ms\n', pops), expected);
  });

  it('gives unlisted pairs (and a PoP to itself) 0 ms; an empty file is no delays', () => {
    const matrix = parseLatency('{ fra-lhr: 10ms }', pops);
    assert.equal(oneWayDelay(matrix, 'fra', 'iad'), 0);
    assert.equal(oneWayDelay(matrix, 'fra', 'fra'), 0);
    assert.deepEqual(parseLatency('', pops), {});
    assert.deepEqual(parseLatency('# nothing yet\n', pops), {});
    assert.deepEqual(parseLatency('fra-lhr: 0ms', pops), { 'fra-lhr': 0, 'lhr-fra': 0 });
  });

  it('reads PoP names that hold "-" themselves', () => {
    const names = ['us-east', 'eu-west', 'ap'];
    assert.deepEqual(parseLatency('us-east-eu-west: 40ms\nap-us-east: 80ms', names), {
      'us-east-eu-west': 40,
      'eu-west-us-east': 40,
      'ap-us-east': 80,
      'us-east-ap': 80,
    });
  });

  it('names the file and the key of an unknown PoP', () => {
    assert.throws(
      () => parseLatency('fra-lhr: 10ms\nfra-sfo: 20ms\n', pops, 'latency.yaml'),
      (error: Error) => {
        assert.match(error.message, /^latency\.yaml: fra-sfo: unknown PoP "sfo"\. Fix: the PoPs are fra, lhr, ewr, iad/);
        assert.equal((error as { code?: string }).code, 'BURROW_ERR_CONFIG');
        return true;
      },
    );
    assert.throws(() => parseLatency('foo-bar: 1ms', pops, 'l.yaml'), /l\.yaml: foo-bar: unknown PoPs "foo" and "bar"/);
  });

  it('names the key of a bad duration', () => {
    assert.throws(() => parseLatency('fra-lhr: fast', pops, 'latency.yaml'), /latency\.yaml: fra-lhr: "fast" is not a valid duration\. Fix: use a Go-style duration/);
    assert.throws(() => parseLatency('fra-lhr: -5ms', pops, 'latency.yaml'), /latency\.yaml: fra-lhr: "-5ms" is not a valid duration \(it is negative\)/);
    assert.throws(() => parseLatency('fra-lhr: 10 parsecs', pops, 'latency.yaml'), /fra-lhr: .*unknown unit/);
    assert.throws(() => parseLatency('fra-lhr: [10ms]', pops, 'latency.yaml'), /latency\.yaml: fra-lhr: .* is not a valid duration/);
  });

  it('names a key that is not a-b, and a PoP paired with itself', () => {
    assert.throws(() => parseLatency('fralhr: 10ms', pops, 'latency.yaml'), /latency\.yaml: fralhr: not a pair of PoPs \(expected two PoP names joined by "-"\)/);
    assert.throws(() => parseLatency('fra-: 10ms', pops, 'latency.yaml'), /latency\.yaml: fra-: not a pair of PoPs/);
    assert.throws(() => parseLatency('fra-fra: 10ms', pops, 'latency.yaml'), /latency\.yaml: fra-fra: pairs the PoP fra with itself/);
  });

  it('refuses a pair that reads two ways with PoP names holding "-"', () => {
    assert.throws(() => parseLatency('a-b-c: 1ms', ['a', 'b-c', 'a-b', 'c'], 'l.yaml'), /l\.yaml: a-b-c: can be read as more than one pair of PoPs/);
  });

  it('refuses YAML that is not a mapping of pairs, and broken YAML, naming the file', () => {
    assert.throws(() => parseLatency('- fra-lhr: 10ms', pops, 'latency.yaml'), /latency\.yaml: the latency matrix must be a mapping/);
    assert.throws(() => parseLatency('10ms', pops, 'latency.yaml'), /latency\.yaml: the latency matrix must be a mapping/);
    assert.throws(() => parseLatency('fra-lhr: 10ms\nfra-lhr: 20ms\n', pops, 'latency.yaml'), /latency\.yaml: not valid YAML: Map keys must be unique at line 2/);
    assert.throws(() => parseLatency('fra-lhr: [10ms', pops, 'latency.yaml'), /latency\.yaml: not valid YAML/);
  });
});

describe('normalizeLatency', () => {
  it('takes an already parsed object, and numbers as seconds like every Burrow duration', () => {
    assert.deepEqual(normalizeLatency({ 'ewr-iad': '5ms', 'fra-ewr': 0.09 }, pops), { 'ewr-iad': 5, 'iad-ewr': 5, 'fra-ewr': 90, 'ewr-fra': 90 });
    assert.deepEqual(normalizeLatency(null, pops), {});
  });
});

describe('the default matrix', () => {
  it('is the one `burrow network dev` documents', () => {
    const matrix = defaultLatency(DEFAULT_POPS);
    assert.deepEqual(
      Object.fromEntries(['fra-lhr', 'lhr-ewr', 'ewr-iad', 'fra-iad', 'fra-ewr', 'lhr-iad'].map((pair) => [pair, matrix[pair]])),
      { 'fra-lhr': 10, 'lhr-ewr': 35, 'ewr-iad': 5, 'fra-iad': 120, 'fra-ewr': 90, 'lhr-iad': 100 },
    );
    assert.equal(oneWayDelay(matrix, 'iad', 'fra'), 120);
  });

  it('keeps only the pairs among the PoPs that run', () => {
    assert.deepEqual(defaultLatency(['fra', 'lhr', 'sfo']), { 'fra-lhr': 10, 'lhr-fra': 10 });
    assert.deepEqual(defaultLatency(['a', 'b']), {});
  });
});

describe('describeLatency and sameLatency', () => {
  it('lists the nonzero directions and compares matrices pair by pair', () => {
    const matrix = parseLatency('fra-lhr: 10ms\nlhr-fra: 12ms', pops);
    assert.equal(describeLatency(matrix, pops), 'fra->lhr 10ms, lhr->fra 12ms');
    assert.equal(describeLatency({}, pops), 'no delays (0 ms everywhere)');
    const mixed = parseLatency('lhr-ewr: 35ms\nfra-lhr: 10ms\newr-fra: 3ms\nfra-ewr: 0ms', pops);
    assert.equal(describeLatency(mixed, pops), 'fra-lhr 10ms, ewr->fra 3ms, lhr-ewr 35ms');
    assert.ok(sameLatency({ 'fra-lhr': 0 }, {}, pops));
    assert.ok(!sameLatency(matrix, { 'fra-lhr': 10, 'lhr-fra': 10 }, pops));
  });
});

describe('latency files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'burrow-latency-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a file, and names a missing one', async () => {
    const file = path.join(dir, 'latency.yaml');
    await writeFile(file, 'fra-lhr: 10ms\n');
    assert.deepEqual(await loadLatencyFile(file, pops), { 'fra-lhr': 10, 'lhr-fra': 10 });
    const missing = path.join(dir, 'missing.yaml');
    await assert.rejects(loadLatencyFile(missing, pops), (error: Error) => error.message.startsWith(`${missing}: cannot read the latency matrix: the file does not exist`));
  });

  it('watches a file: a change applies, a broken file keeps the last good matrix and reports why', async () => {
    const file = path.join(dir, 'watched.yaml');
    await writeFile(file, 'fra-lhr: 10ms\n');
    const initial = await loadLatencyFile(file, pops);
    const changes: LatencyMatrix[] = [];
    const errors: Error[] = [];
    const stop = watchLatencyFile(file, pops, initial, { onChange: (m) => changes.push(m), onError: (e) => errors.push(e) }, 20);
    try {
      await waitFor(async () => {
        await writeFile(file, 'fra-lhr: 40ms\n');
        // The poll can read the file in the middle of a write (empty): wait for the matrix written.
        return isDeepStrictEqual(changes.at(-1), { 'fra-lhr': 40, 'lhr-fra': 40 });
      });
      assert.deepEqual(changes.at(-1), { 'fra-lhr': 40, 'lhr-fra': 40 });

      await waitFor(async () => {
        await writeFile(file, 'fra-nowhere: 1ms\n');
        return errors.length > 0;
      });
      assert.match(errors[0]!.message, new RegExp(`^${escape(file)}: fra-nowhere: unknown PoP "nowhere"`));
      const applied = changes.length;

      await waitFor(async () => {
        await writeFile(file, 'fra-lhr: 5ms\nlhr-fra: 7ms\n');
        return changes.length > applied && isDeepStrictEqual(changes.at(-1), { 'fra-lhr': 5, 'lhr-fra': 7 });
      });
      assert.deepEqual(changes.at(-1), { 'fra-lhr': 5, 'lhr-fra': 7 });
    } finally {
      stop();
    }
  });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function waitFor(step: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await step()) return;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
