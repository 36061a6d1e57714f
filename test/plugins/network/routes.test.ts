// Lowest-latency paths over a measured matrix: the multi-hop path wins over a slow direct link, and only live links count.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LinkReport } from '../../../core/index.ts';
import { linkGraph, nearest, shortestPaths } from '../../../plugins/network/routes.ts';

const at = new Date().toISOString();
/** Round trips (ms) of the matrix in README's example: one-way fra-lhr 10, lhr-ewr 35, ewr-iad 5, fra-iad 120, fra-ewr 90, lhr-iad 100. */
function symmetric(rtts: Record<string, number>): LinkReport[] {
  const rows = new Map<string, Record<string, number>>();
  for (const [pair, rtt] of Object.entries(rtts)) {
    const [a, b] = pair.split('-') as [string, string];
    rows.set(a, { ...rows.get(a), [b]: rtt });
    rows.set(b, { ...rows.get(b), [a]: rtt });
  }
  return [...rows].map(([from, row]) => ({ from, rtts: row, at }));
}
const pops = new Set(['fra', 'lhr', 'ewr', 'iad']);
const matrix = { 'fra-lhr': 20, 'lhr-ewr': 70, 'ewr-iad': 10, 'fra-iad': 240, 'fra-ewr': 180, 'lhr-iad': 200 };

describe('shortestPaths', () => {
  it('takes fra > lhr > ewr > iad (100 ms) over the direct 240 ms link', () => {
    const paths = shortestPaths(linkGraph(symmetric(matrix), pops), 'fra');
    assert.deepEqual(paths.get('iad'), { path: ['fra', 'lhr', 'ewr', 'iad'], rttMs: 100 });
    assert.deepEqual(paths.get('fra'), { path: ['fra'], rttMs: 0 });
    assert.deepEqual(paths.get('lhr'), { path: ['fra', 'lhr'], rttMs: 20 });
  });

  it('moves to fra > ewr > iad when lhr-ewr rises to 400 ms', () => {
    const paths = shortestPaths(linkGraph(symmetric({ ...matrix, 'lhr-ewr': 400 }), pops), 'fra');
    assert.deepEqual(paths.get('iad'), { path: ['fra', 'ewr', 'iad'], rttMs: 190 });
  });

  it('uses a link only in the direction its PoP measured it (a request rides the link its PoP dialed)', () => {
    const reports: LinkReport[] = [
      { from: 'a', rtts: { b: 5 }, at },
      { from: 'b', rtts: { c: 5 }, at },
    ];
    const graph = linkGraph(reports, new Set(['a', 'b', 'c']));
    assert.deepEqual(shortestPaths(graph, 'a').get('c')?.path, ['a', 'b', 'c']);
    assert.equal(shortestPaths(graph, 'c').get('a'), undefined);
  });

  it('leaves out PoPs that are not live, and links to them', () => {
    const graph = linkGraph(symmetric(matrix), new Set(['fra', 'ewr', 'iad']));
    assert.deepEqual(shortestPaths(graph, 'fra').get('iad'), { path: ['fra', 'ewr', 'iad'], rttMs: 190 });
    assert.equal(shortestPaths(graph, 'fra').get('lhr'), undefined);
  });
});

describe('nearest', () => {
  it('picks the serving PoP with the best total path, and none when none is reachable', () => {
    const paths = shortestPaths(linkGraph(symmetric(matrix), pops), 'fra');
    assert.equal(nearest(paths, ['iad', 'lhr'])?.pop, 'lhr');
    assert.equal(nearest(paths, ['iad', 'ewr'])?.pop, 'ewr');
    assert.equal(nearest(paths, ['nowhere']), undefined);
  });
});
