// Parses Go-style durations ("30s", "1m30s", "500ms") as cloudflared's config accepts them, into milliseconds.
import { z } from 'zod';
import { ConfigError, showValue } from './errors.ts';

export const DURATION_HINT = 'use a Go-style duration such as "30s", "1m30s", "1h" or "500ms", or a number of seconds';

// Go's units, in nanoseconds; both micro signs are accepted, as Go does.
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** The longest duration a timer can wait (setTimeout takes at most 2^31-1 ms, about 24.8 days; longer fires at once). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Milliseconds for a duration, or what is wrong with it, for callers that report errors their own way. */
export function tryParseDuration(value: unknown): { ok: true; ms: number } | { ok: false; problem: string } {
  const parsed = parseAnyDuration(value);
  if (parsed.ok && !(parsed.ms <= MAX_DURATION_MS)) return { ok: false, problem: `${showValue(value)} is too long a duration (at most 596h, about 24 days)` };
  return parsed;
}

function parseAnyDuration(value: unknown): { ok: true; ms: number } | { ok: false; problem: string } {
  const shown = showValue(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, problem: `${shown} is not a valid duration` };
    if (value < 0) return { ok: false, problem: `${shown} is not a valid duration (it is negative)` };
    return { ok: true, ms: Math.round(value * 1e9) / 1e6 };
  }
  if (typeof value !== 'string') return { ok: false, problem: `${shown} is not a valid duration` };
  const text = value.trim();
  // A unitless number is seconds, so that values from environment variables behave like YAML numbers.
  if (/^\d+(\.\d*)?$|^\.\d+$/.test(text)) return parseAnyDuration(Number(text));
  if (text.startsWith('-')) return { ok: false, problem: `${shown} is not a valid duration (it is negative)` };
  const unsigned = text.startsWith('+') ? text.slice(1) : text;
  const part = /(\d*\.?\d*)([^\d.]*)/y;
  let ns = 0;
  while (part.lastIndex < unsigned.length) {
    const match = part.exec(unsigned);
    const [, number = '', unit = ''] = match ?? [];
    if (number === '' || number === '.') return { ok: false, problem: `${shown} is not a valid duration` };
    if (unit === '') return { ok: false, problem: `${shown} is not a valid duration (missing unit after "${number}")` };
    const scale = UNIT_NS[unit];
    if (scale === undefined) return { ok: false, problem: `${shown} is not a valid duration (unknown unit "${unit}")` };
    // Whole nanoseconds per part, like Go, so "1.1s" is exactly 1100ms rather than 1100.0000000000002.
    ns += Math.round(Number(number) * scale);
  }
  if (unsigned === '') return { ok: false, problem: `${shown} is not a valid duration` };
  return { ok: true, ms: ns / 1e6 };
}

/** Milliseconds for a duration; a bare number means seconds. */
export function parseDuration(value: string | number, keyPath: string): number {
  const parsed = tryParseDuration(value);
  if (!parsed.ok) throw new ConfigError(parsed.problem, { keyPath, hint: DURATION_HINT });
  return parsed.ms;
}

const durationInput = z.union([z.string(), z.number()], {
  error: (issue) => `${showValue(issue.input)} is not a valid duration; ${DURATION_HINT}`,
});

/** A duration in a config schema, parsed to milliseconds. */
export const durationSchema = durationInput.transform((value, ctx) => {
  const parsed = tryParseDuration(value);
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: `${parsed.problem}; ${DURATION_HINT}`, input: value });
  return z.NEVER;
});

/**
 * A duration checked but kept as written, for config layers that are merged before being resolved:
 * re-validating an already-parsed layer must not turn milliseconds into seconds.
 */
export const durationInputSchema = durationInput.superRefine((value, ctx) => {
  const parsed = tryParseDuration(value);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `${parsed.problem}; ${DURATION_HINT}`, input: value });
});
