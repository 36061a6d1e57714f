// Lowest-latency paths through the network's measured links (Dijkstra over link round trips), and the matrix they come from.
import type { LinkReport } from 'burrow';
import type { PathStatus } from './view.ts';

/** graph.get(a).get(b): the smoothed round trip in ms of a's link to b, as a measured it. */
export type LinkGraph = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * The graph of the links that can carry a request: a's link to b counts only as a measured it (a request from a to b
 * travels on the link a dialed), and only between PoPs in `pops` (the live ones).
 */
export function linkGraph(reports: readonly LinkReport[], pops: ReadonlySet<string>): Map<string, Map<string, number>> {
  const graph = new Map<string, Map<string, number>>();
  for (const report of reports) {
    if (!pops.has(report.from)) continue;
    const out = new Map<string, number>();
    for (const [to, rtt] of Object.entries(report.rtts)) {
      if (pops.has(to) && to !== report.from && Number.isFinite(rtt) && rtt >= 0) out.set(to, rtt);
    }
    graph.set(report.from, out);
  }
  return graph;
}

/** The lowest-latency path from `from` to every PoP it can reach (itself included, at 0 ms). */
export function shortestPaths(graph: LinkGraph, from: string): Map<string, PathStatus> {
  const dist = new Map<string, number>([[from, 0]]);
  const previous = new Map<string, string>();
  const done = new Set<string>();
  // Networks have tens of PoPs: a linear scan for the nearest open node beats a heap's bookkeeping.
  for (;;) {
    let current: string | undefined;
    let best = Infinity;
    for (const [node, d] of dist) {
      if (!done.has(node) && (d < best || (d === best && current !== undefined && node < current))) {
        current = node;
        best = d;
      }
    }
    if (current === undefined) break;
    done.add(current);
    for (const [next, rtt] of graph.get(current) ?? []) {
      const through = best + rtt;
      const known = dist.get(next);
      if (known === undefined || through < known) {
        dist.set(next, through);
        previous.set(next, current);
      }
    }
  }
  const paths = new Map<string, PathStatus>();
  for (const [to, rttMs] of dist) {
    const path = [to];
    for (let at = to; at !== from; ) {
      at = previous.get(at)!;
      path.unshift(at);
    }
    paths.set(to, { path, rttMs });
  }
  return paths;
}

/** Of the PoPs in `targets`, the one with the shortest path from `from` (ties: by name), or undefined when none is reachable. */
export function nearest(paths: ReadonlyMap<string, PathStatus>, targets: Iterable<string>): { pop: string; route: PathStatus } | undefined {
  let best: { pop: string; route: PathStatus } | undefined;
  for (const pop of targets) {
    const route = paths.get(pop);
    if (!route) continue;
    if (!best || route.rttMs < best.route.rttMs || (route.rttMs === best.route.rttMs && pop < best.pop)) best = { pop, route };
  }
  return best;
}
