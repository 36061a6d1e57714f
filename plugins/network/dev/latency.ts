// The latency matrix of `burrow network dev`: one-way delays between PoPs, from YAML like `{ fra-lhr: 10ms }`.
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError, DURATION_HINT, durationSchema, z } from 'burrow';

/** One-way delay in milliseconds per ordered pair, keyed `from-to`; a pair not listed has 0 ms. */
export type LatencyMatrix = Readonly<Record<string, number>>;

/** The PoPs `burrow network dev` runs when no --pops are given. */
export const DEFAULT_POPS: readonly string[] = ['fra', 'lhr', 'ewr', 'iad'];

/** The matrix `burrow network dev` runs with when no --latency file is given (as a file would say it). */
export const DEFAULT_LATENCY_TEXT = 'fra-lhr: 10ms\nlhr-ewr: 35ms\newr-iad: 5ms\nfra-iad: 120ms\nfra-ewr: 90ms\nlhr-iad: 100ms\n';

const matrixInput = z.record(z.string(), durationSchema);

const EXAMPLE = '`fra-lhr: 10ms` (one-way; `a-b` sets both directions unless `b-a` is listed too)';

/** The delay from `from` to `to`. */
export function oneWayDelay(matrix: LatencyMatrix, from: string, to: string): number {
  return from === to ? 0 : (matrix[`${from}-${to}`] ?? 0);
}

/**
 * Checks a parsed matrix (`{ "fra-lhr": "10ms" }`) against the PoPs and returns it per direction: `a-b`
 * applies both ways unless `b-a` is also given, which then sets that direction.
 */
export function normalizeLatency(input: unknown, pops: readonly string[], file?: string): LatencyMatrix {
  if (input === null || input === undefined) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError('the latency matrix must be a mapping of PoP pairs to delays', { file, hint: `write one line per pair, like ${EXAMPLE}` });
  }
  const parsed = matrixInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.');
    const message = issue.message.includes(DURATION_HINT) ? issue.message.replace(`; ${DURATION_HINT}`, '') : issue.message;
    throw new ConfigError(message, { file, keyPath: key || undefined, hint: `${DURATION_HINT}; e.g. ${EXAMPLE}` });
  }
  const explicit = new Map<string, number>();
  for (const [key, ms] of Object.entries(parsed.data)) {
    const [from, to] = splitPair(key, pops, file);
    explicit.set(`${from}-${to}`, ms);
  }
  const matrix: Record<string, number> = Object.fromEntries(explicit);
  for (const [pair, ms] of explicit) {
    const [from, to] = splitPair(pair, pops, file);
    const reverse = `${to}-${from}`;
    if (!explicit.has(reverse)) matrix[reverse] = ms;
  }
  return matrix;
}

/** Parses YAML text; `file` names it in errors. */
export function parseLatency(text: string, pops: readonly string[], file?: string): LatencyMatrix {
  const doc = parseDocument(text, { uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    // The first line of the message says what and where ("... at line 2, column 1:"), then comes the excerpt.
    const what = problem.message.split('\n')[0]!.replace(/:\s*$/, '');
    throw new ConfigError(`not valid YAML: ${what}`, { file, hint: `write one line per pair, like ${EXAMPLE}` });
  }
  return normalizeLatency(doc.toJS(), pops, file);
}

/** Reads and parses a latency file. */
export async function loadLatencyFile(file: string, pops: readonly string[]): Promise<LatencyMatrix> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the file does not exist' : (error as Error).message;
    throw new ConfigError(`cannot read the latency matrix: ${why}`, { file, hint: `create it with one line per pair, like ${EXAMPLE}`, cause: error });
  }
  return parseLatency(text, pops, file);
}

/** The default matrix for `pops`: the default pairs whose two PoPs are both among them. */
export function defaultLatency(pops: readonly string[]): LatencyMatrix {
  const all = parseLatency(DEFAULT_LATENCY_TEXT, DEFAULT_POPS);
  return restrictLatency(all, pops);
}

/** Only the pairs of `matrix` between two of `pops`. */
export function restrictLatency(matrix: LatencyMatrix, pops: readonly string[]): LatencyMatrix {
  const out: Record<string, number> = {};
  for (const from of pops) for (const to of pops) if (from !== to && matrix[`${from}-${to}`] !== undefined) out[`${from}-${to}`] = matrix[`${from}-${to}`]!;
  return out;
}

/**
 * Polls `file` (renames by editors included) and calls `onChange` with each new matrix that differs from
 * the last one; a file that cannot be read or parsed calls `onError` and the last good matrix stays.
 * Returns the function that stops watching.
 */
export function watchLatencyFile(
  file: string,
  pops: readonly string[],
  current: LatencyMatrix,
  handlers: { onChange(matrix: LatencyMatrix): void; onError(error: Error): void },
  intervalMs = 500,
): () => void {
  let last = current;
  let reading: Promise<void> = Promise.resolve();
  let stopped = false;
  const listener = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    reading = reading.then(async () => {
      try {
        const next = await loadLatencyFile(file, pops);
        if (stopped || sameLatency(next, last, pops)) return;
        last = next;
        handlers.onChange(next);
      } catch (error) {
        if (!stopped) handlers.onError(error as Error);
      }
    });
  };
  watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => {
    stopped = true;
    unwatchFile(file, listener);
  };
}

/** `fra-lhr 10ms, fra->ewr 90ms, ewr->fra 80ms, ...` in PoP order, for logs: a pair with one delay both ways is written once; 0 ms pairs are left out. */
export function describeLatency(matrix: LatencyMatrix, pops: readonly string[]): string {
  const parts: string[] = [];
  pops.forEach((a, i) => {
    for (const b of pops.slice(i + 1)) {
      const there = oneWayDelay(matrix, a, b);
      const back = oneWayDelay(matrix, b, a);
      if (there === back) {
        if (there > 0) parts.push(`${a}-${b} ${there}ms`);
        continue;
      }
      if (there > 0) parts.push(`${a}->${b} ${there}ms`);
      if (back > 0) parts.push(`${b}->${a} ${back}ms`);
    }
  });
  return parts.length ? parts.join(', ') : 'no delays (0 ms everywhere)';
}

/** True when both matrices give every pair of `pops` the same delay. */
export function sameLatency(a: LatencyMatrix, b: LatencyMatrix, pops: readonly string[]): boolean {
  return pops.every((from) => pops.every((to) => oneWayDelay(a, from, to) === oneWayDelay(b, from, to)));
}

/** `fra-lhr` -> ['fra', 'lhr']; PoP names may hold "-" themselves, so every split into two known PoPs is tried. */
function splitPair(key: string, pops: readonly string[], file: string | undefined): [string, string] {
  const known = new Set(pops);
  const hint = `the PoPs are ${pops.join(', ')}; write pairs like ${EXAMPLE}`;
  const splits: Array<[string, string]> = [];
  for (let i = key.indexOf('-'); i >= 0; i = key.indexOf('-', i + 1)) splits.push([key.slice(0, i), key.slice(i + 1)]);
  if (splits.length === 0 || splits.every(([a, b]) => !a || !b)) {
    throw new ConfigError('not a pair of PoPs (expected two PoP names joined by "-")', { file, keyPath: key, hint });
  }
  const matches = splits.filter(([a, b]) => known.has(a) && known.has(b));
  if (matches.length > 1) {
    throw new ConfigError(`can be read as more than one pair of PoPs (${matches.map(([a, b]) => `${a} and ${b}`).join('; ')})`, { file, keyPath: key, hint: 'rename the PoPs so that no name joined to another with "-" looks like a third' });
  }
  const match = matches[0];
  if (!match) {
    // Name what is unknown: the other half of a split with one known PoP, else both halves of the first split.
    const half = splits.find(([a, b]) => a && b && known.has(a) !== known.has(b));
    const names = half ? [known.has(half[0]) ? half[1] : half[0]] : splits[0]!.filter(Boolean);
    const shown = names.map((name) => `"${name}"`).join(' and ');
    throw new ConfigError(`${names.length > 1 ? 'unknown PoPs' : 'unknown PoP'} ${shown}`, { file, keyPath: key, hint });
  }
  if (match[0] === match[1]) {
    throw new ConfigError(`pairs the PoP ${match[0]} with itself`, { file, keyPath: key, hint: 'a PoP reaches itself with no link; list pairs of two different PoPs' });
  }
  return match;
}
