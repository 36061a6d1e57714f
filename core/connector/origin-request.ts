// The `originRequest` options (how the connector talks to an origin), with cloudflared's names and defaults.
import { z } from 'zod';
import { DURATION_HINT, durationInputSchema, parseDuration, tryParseDuration } from '../kernel/duration.ts';
import { ConfigError, didYouMean, formatKeyPath, showValue } from '../kernel/errors.ts';

const BOOLEAN_HINT = 'use true or false';
const COUNT_HINT = 'use a whole number, 0 or more';
const TEXT_HINT = 'use a non-empty string';

// Each option with its schema and the fix shown when a value is wrong, so errors name the option's own rules.
const options = {
  connectTimeout: { schema: durationInputSchema, hint: DURATION_HINT },
  tlsTimeout: { schema: durationInputSchema, hint: DURATION_HINT },
  tcpKeepAlive: { schema: durationInputSchema, hint: DURATION_HINT },
  noHappyEyeballs: { schema: z.boolean(), hint: BOOLEAN_HINT },
  keepAliveConnections: { schema: z.number().int().min(0), hint: COUNT_HINT },
  keepAliveTimeout: { schema: durationInputSchema, hint: DURATION_HINT },
  httpHostHeader: { schema: z.string().min(1), hint: TEXT_HINT },
  originServerName: { schema: z.string().min(1), hint: TEXT_HINT },
  caPool: { schema: z.string().min(1), hint: 'use the path to a PEM file of CA certificates' },
  noTLSVerify: { schema: z.boolean(), hint: BOOLEAN_HINT },
  disableChunkedEncoding: { schema: z.boolean(), hint: BOOLEAN_HINT },
  http2Origin: { schema: z.boolean(), hint: BOOLEAN_HINT },
  proxyAddress: { schema: z.string().min(1), hint: 'use an address to listen on, e.g. 127.0.0.1' },
  proxyPort: { schema: z.number().int().min(0).max(65535), hint: 'use a port number from 0 to 65535' },
  proxyType: { schema: z.enum(['', 'socks']), hint: 'use "socks" or leave it empty' },
  bastionMode: { schema: z.boolean(), hint: BOOLEAN_HINT },
  // Burrow's own: how long an origin may take to start its response (Cloudflare's edge allows 100 s).
  responseTimeout: { schema: durationInputSchema, hint: DURATION_HINT },
  // Accepted so cloudflared configs load unchanged; Burrow does not enforce Cloudflare Access.
  access: { schema: z.looseObject({}), hint: 'use a mapping, e.g. { required: true, teamName: my-team }' },
} as const;

type OptionName = keyof typeof options;

const durationOptions = ['connectTimeout', 'tlsTimeout', 'tcpKeepAlive', 'keepAliveTimeout', 'responseTimeout'] as const;

/** The `originRequest` block as written: every key optional, durations still strings or numbers of seconds. */
export const originRequestSchema = z.strictObject(
  Object.fromEntries(Object.entries(options).map(([name, option]) => [name, option.schema.optional()])) as {
    [K in OptionName]: z.ZodOptional<(typeof options)[K]['schema']>;
  },
);

export type OriginRequestConfig = z.input<typeof originRequestSchema>;

/** The options in effect for one rule: durations in milliseconds, defaults filled in. */
export interface OriginRequestOptions {
  readonly connectTimeout: number;
  readonly tlsTimeout: number;
  readonly tcpKeepAlive: number;
  readonly noHappyEyeballs: boolean;
  readonly keepAliveConnections: number;
  readonly keepAliveTimeout: number;
  readonly responseTimeout: number;
  readonly httpHostHeader?: string;
  readonly originServerName?: string;
  readonly caPool?: string;
  readonly noTLSVerify: boolean;
  readonly disableChunkedEncoding: boolean;
  readonly http2Origin: boolean;
  readonly proxyAddress?: string;
  readonly proxyPort?: number;
  readonly proxyType?: '' | 'socks';
  readonly bastionMode: boolean;
  readonly access?: Readonly<Record<string, unknown>>;
}

const defaults = {
  connectTimeout: '30s',
  tlsTimeout: '10s',
  tcpKeepAlive: '30s',
  noHappyEyeballs: false,
  keepAliveConnections: 100,
  keepAliveTimeout: '1m30s',
  responseTimeout: '100s',
  noTLSVerify: false,
  disableChunkedEncoding: false,
  http2Origin: false,
  bastionMode: false,
} satisfies OriginRequestConfig;

/**
 * Validates an `originRequest` block found at `keyPath` (e.g. ['ingress', 1, 'originRequest']),
 * throwing a ConfigError that names the exact offending key.
 */
export function parseOriginRequest(
  input: unknown,
  keyPath: ReadonlyArray<string | number>,
  file?: string,
): OriginRequestConfig {
  if (input === undefined || input === null) return {};
  const result = originRequestSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const [name] = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const suggestion = didYouMean(key, Object.keys(options));
    return fail(`unknown option "${key}"`, [...keyPath, key], file,
      suggestion === undefined ? `use one of ${Object.keys(options).join(', ')}` : `did you mean "${suggestion}"?`);
  }
  if (typeof name === 'string' && name in options) {
    const value = (input as Record<string, unknown>)[name];
    const duration = tryParseDuration(value);
    const problem = (durationOptions as readonly string[]).includes(name) && !duration.ok
      ? duration.problem
      : `${showValue(value)} is not a valid value`;
    return fail(problem, [...keyPath, name], file, options[name as OptionName].hint);
  }
  return fail(`must be a mapping of options, got ${showValue(input)}`, keyPath, file,
    'write it as keys under originRequest:, e.g. connectTimeout: 10s');
}

function fail(problem: string, keyPath: ReadonlyArray<string | number>, file: string | undefined, hint: string): never {
  throw new ConfigError(problem, { file, keyPath: formatKeyPath(keyPath), hint });
}

/** Merges layers (defaults, then top-level, then per-rule): a later layer wins for each key it sets. */
export function resolveOriginRequest(...layers: Array<OriginRequestConfig | undefined>): OriginRequestOptions {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer ?? {})) {
      if (value !== undefined) merged[key] = value;
    }
  }
  const config = { ...defaults, ...parseOriginRequest(merged, ['originRequest']) };
  const durations = Object.fromEntries(
    durationOptions.map((name) => [name, parseDuration(config[name], `originRequest.${name}`)]),
  ) as Record<(typeof durationOptions)[number], number>;
  return Object.freeze({ ...config, ...durations });
}
