// Ingress rules: which origin service handles a request, by hostname and path, with cloudflared's semantics.
import { domainToASCII } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { ConfigError, didYouMean, formatKeyPath, showValue } from '../kernel/errors.ts';
import { normalizeHost } from '../transport/host.ts';

/** An `originRequest` block as written; the loaded origin plugins declare its keys. */
export type OriginRequestConfig = Readonly<Record<string, unknown>>;

export interface IngressRuleConfig {
  hostname?: string;
  path?: string;
  service: string;
  originRequest?: OriginRequestConfig;
  /** Plugins may add per-rule keys, e.g. middleware. */
  [extra: string]: unknown;
}

/**
 * Where a rule sends requests, split but not interpreted: the plugin serving `scheme` checks the rest.
 * `hello_world` is scheme `hello_world` with an empty rest; `echo:label` has rest `label`;
 * `http://host:1` has rest `//host:1` and `url`, as has any `scheme://...` that parses as a URL.
 */
export interface ServiceSpec {
  /** Lower case. */
  readonly scheme: string;
  readonly raw: string;
  readonly rest: string;
  readonly url?: URL;
}

const SERVICE_HINT = 'use a service such as http://localhost:8080, or a scheme a plugin serves';
const CATCH_ALL_HINT = 'add a final catch-all rule without hostname or path, e.g. `- service: http_status:404`';
// cloudflared answers every request with 503 when a config has no ingress at all.
const NO_INGRESS: IngressRuleConfig = { service: 'http_status:503' };

/**
 * Splits a service into scheme and rest. With the loaded `origins`, hints list their examples, and
 * `localhost:8080` (a "scheme" no plugin serves, then a port) is reported as a missing scheme.
 */
/** One `originRequest` block as written, and where it is. */
export interface OriginRequestLayer {
  readonly values: OriginRequestConfig;
  readonly keyPath: ReadonlyArray<string | number>;
}

/** What checks services and `originRequest` blocks against the origin schemes plugins declare (the origin catalog). */
export interface OriginChecks {
  readonly schemes: readonly string[];
  readonly serviceHint?: string;
  checkLayer(layer: OriginRequestLayer, file?: string): void;
  check(service: ServiceSpec, layers: readonly OriginRequestLayer[], keyPath: ReadonlyArray<string | number>, file?: string): Readonly<Record<string, unknown>>;
}

export function parseService(raw: unknown, keyPath: string, file?: string, origins?: OriginChecks): ServiceSpec {
  const hint = origins?.serviceHint ?? SERVICE_HINT;
  const fail = (problem: string, fix = hint): never => {
    throw new ConfigError(problem, { file, keyPath, hint: fix });
  };
  if (raw === undefined || raw === null) return fail('is missing');
  if (typeof raw !== 'string' || raw.trim() === '') return fail(`${showValue(raw)} is not a valid service`);
  const text = raw.trim();
  const shown = JSON.stringify(raw);
  const noScheme = () => fail(`${shown} is not a valid service: it has no scheme`, `add one, e.g. http://${text}`);
  const scheme = /^([a-z][a-z0-9_+.-]*):/i.exec(text)?.[1]!.toLowerCase();
  if (scheme !== undefined) {
    const rest = text.slice(scheme.length + 1);
    if (origins !== undefined && /^\d+$/.test(rest) && !origins.schemes.includes(scheme)) return noScheme();
    return rest.startsWith('//') ? { scheme, raw, rest, url: urlOf(text) } : { scheme, raw, rest };
  }
  if (/^([\w.-]+|\[[0-9a-f:.]+\]):\d+$/i.test(text) || /^\d+(\.\d+){3}$/.test(text)) return noScheme();
  if (!/^[a-z][a-z0-9_+.-]*$/i.test(text)) return fail(`${shown} is not a valid service`);
  return { scheme: text.toLowerCase(), raw, rest: '' };
}

function urlOf(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

export class IngressRule {
  readonly index: number;
  /** Lower-case ASCII (punycode), `*.suffix` for a wildcard; absent when the rule matches every host. */
  readonly hostname?: string;
  readonly path?: RegExp;
  readonly service: ServiceSpec;
  /**
   * The `originRequest` options in effect: parsed with the loaded origins, those the rule's origin reads,
   * defaults filled in; parsed without, the top-level and the rule's own layers merged as written.
   */
  readonly originRequest: Readonly<Record<string, unknown>>;
  readonly config: IngressRuleConfig;

  constructor(init: {
    index: number;
    hostname?: string;
    path?: RegExp;
    service: ServiceSpec;
    originRequest: Readonly<Record<string, unknown>>;
    config: IngressRuleConfig;
  }) {
    this.index = init.index;
    this.hostname = init.hostname;
    this.path = init.path;
    this.service = init.service;
    this.originRequest = init.originRequest;
    this.config = init.config;
  }

  get isCatchAll(): boolean {
    return this.hostname === undefined && this.path === undefined;
  }

  /** `host` is a Host header (port and IPv6 brackets allowed); `path` may still carry its query string. */
  matches(host: string, path: string): boolean {
    return this.matchesHost(normalizeHost(host)) && (this.path === undefined || this.path.test(requestPath(path)));
  }

  describe(): string {
    const lines = [];
    if (this.hostname !== undefined) lines.push(`hostname: ${this.hostname}`);
    // The pattern as written: RegExp#source would show it re-escaped ("^\/api").
    if (this.path !== undefined) lines.push(`path: ${String(this.config.path)}`);
    lines.push(`service: ${this.service.raw}`);
    return lines.join('\n');
  }

  private matchesHost(host: string): boolean {
    if (this.hostname === undefined) return true;
    // As cloudflared: "*.example.test" matches any depth of subdomain, but not the apex itself.
    if (this.hostname.startsWith('*.')) return host.endsWith(this.hostname.slice(1));
    return host === this.hostname;
  }
}

export class Ingress {
  private constructor(readonly rules: readonly IngressRule[]) {}

  /**
   * Checks the rules. With `origins` (the schemes and options the loaded plugins declare), each service
   * and `originRequest` is checked by the plugin serving it too; without, only what every rule shares
   * (`burrow tunnel ingress rule`, which loads no plugins).
   */
  static parse(
    rules: IngressRuleConfig[] | undefined,
    topLevelOriginRequest: OriginRequestConfig | undefined,
    opts: { file?: string; origins?: OriginChecks } = {},
  ): Ingress {
    const { file } = opts;
    const topLevel = readLayer(topLevelOriginRequest, ['originRequest'], opts);
    if (rules === undefined || rules === null) return new Ingress([parseRule(NO_INGRESS, 0, topLevel, opts)]);
    if (!Array.isArray(rules)) {
      throw new ConfigError(`must be a list of rules, got ${showValue(rules)}`, {
        file,
        keyPath: 'ingress',
        hint: 'write each rule as a list item, e.g. `- hostname: app.example.test` then `  service: http://localhost:3000`',
      });
    }
    if (rules.length === 0) {
      throw new ConfigError('has no rules', { file, keyPath: 'ingress', hint: 'add at least a catch-all rule `- service: http_status:404`' });
    }
    const parsed: IngressRule[] = [];
    for (const [index, config] of rules.entries()) {
      const previous = parsed[index - 1];
      if (previous?.isCatchAll) {
        throw new ConfigError('this rule matches every request (it has no hostname or path filter), so the rules after it can never match', {
          file,
          keyPath: formatKeyPath(['ingress', index - 1]),
          hint: catchAllTypoHint(previous.config) ?? 'give it a hostname or path, or move it to the end',
        });
      }
      parsed.push(parseRule(config, index, topLevel, opts));
    }
    const last = parsed[parsed.length - 1]!;
    if (!last.isCatchAll) {
      throw new ConfigError('The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)', {
        file,
        keyPath: formatKeyPath(['ingress', last.index, last.hostname !== undefined ? 'hostname' : 'path']),
        hint: CATCH_ALL_HINT,
      });
    }
    return new Ingress(parsed);
  }

  /** The first rule that matches; the catch-all when no other does. */
  match(host: string, path: string): IngressRule {
    return this.rules.find((rule) => rule.matches(host, path)) ?? this.rules[this.rules.length - 1]!;
  }

  /** Exact hostnames and wildcard patterns the rules name, for display. */
  hostnames(): string[] {
    return [...new Set(this.rules.flatMap((rule) => (rule.hostname === undefined ? [] : [rule.hostname])))];
  }
}

function parseRule(config: IngressRuleConfig, index: number, topLevel: OriginRequestLayer, opts: { file?: string; origins?: OriginChecks }): IngressRule {
  const { file, origins } = opts;
  const keyPath = (key?: string) => formatKeyPath(key === undefined ? ['ingress', index] : ['ingress', index, key]);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError(`must be a rule mapping, got ${showValue(config)}`, {
      file,
      keyPath: keyPath(),
      hint: 'write it as keys of a list item, e.g. `- hostname: app.example.test` then `  service: http://localhost:3000`',
    });
  }
  const hostname = parseHostname(config.hostname, keyPath('hostname'), file);
  const pathPattern = parsePath(config.path, keyPath('path'), file);
  const service = parseService(config.service, keyPath('service'), file, origins);
  const layers = [topLevel, readLayer(config.originRequest, ['ingress', index, 'originRequest'], opts)];
  const originRequest = origins ? origins.check(service, layers, ['ingress', index, 'service'], file) : mergeLayers(layers);
  return new IngressRule({ index, hostname, path: pathPattern, service, originRequest, config });
}

/** An `originRequest` block: a mapping, whose keys the loaded origins (when given) declare. */
function readLayer(input: unknown, keyPath: ReadonlyArray<string | number>, { file, origins }: { file?: string; origins?: OriginChecks }): OriginRequestLayer {
  if (input === undefined || input === null) return { values: {}, keyPath };
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`must be a mapping of options, got ${showValue(input)}`, {
      file,
      keyPath: formatKeyPath(keyPath),
      hint: 'write it as keys under originRequest:, e.g. connectTimeout: 10s',
    });
  }
  const layer = { values: input as OriginRequestConfig, keyPath };
  origins?.checkLayer(layer, file);
  return layer;
}

/** A later layer wins for each key it sets. A `__proto__` key stays a key (assigning it would set the prototype). */
function mergeLayers(layers: readonly OriginRequestLayer[]): Readonly<Record<string, unknown>> {
  const merged = new Map<string, unknown>();
  for (const { values } of layers) {
    for (const key of Object.keys(values)) if (values[key] !== undefined) merged.set(key, values[key]);
  }
  return Object.freeze(Object.fromEntries(merged));
}

function parseHostname(value: unknown, keyPath: string, file: string | undefined): string | undefined {
  // An empty hostname is Go's zero value, which cloudflared treats as "any host".
  if (value === undefined || value === null || value === '' || value === '*') return undefined;
  const fail = (problem: string, hint: string): never => {
    throw new ConfigError(problem, { file, keyPath, hint });
  };
  if (typeof value !== 'string') return fail(`${showValue(value)} is not a hostname`, 'use a hostname such as app.example.test');
  const shown = JSON.stringify(value);
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)/i.exec(value);
  if (scheme) return fail(`${shown} includes a scheme`, `use just the hostname, e.g. ${scheme[1] || 'app.example.test'}`);
  const slash = value.indexOf('/');
  if (slash >= 0) return fail(`${shown} includes a path`, `use hostname: ${value.slice(0, slash)} and put the path in the rule's path: key`);
  const ipv6 = ipv6Literal(value);
  if (ipv6 !== undefined) return ipv6;
  if (value.includes(':')) return fail(`${shown} includes a port`, `remove the port (the Host's port is ignored when matching), e.g. ${value.slice(0, value.indexOf(':'))}`);
  const wildcard = value.startsWith('*.');
  const name = wildcard ? value.slice(2) : value;
  if (name.includes('*')) {
    return fail(
      `${shown} has a wildcard that is not the leading "*."`,
      'hostname patterns can have one wildcard, only as the first label for subdomains, e.g. "*.example.test"',
    );
  }
  const ascii = domainToASCII(name.replace(/\.$/, ''));
  if (ascii === '') return fail(`${shown} is not a valid hostname`, 'use a hostname such as app.example.test');
  return wildcard ? `*.${ascii}` : ascii;
}

function parsePath(value: unknown, keyPath: string, file: string | undefined): RegExp | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const hint = 'path is a JavaScript regular expression matched against the URL path; escape special characters, e.g. ^/api/v1\\.0/';
  if (typeof value !== 'string') throw new ConfigError(`${showValue(value)} is not a regular expression`, { file, keyPath, hint });
  let pattern: RegExp;
  try {
    pattern = new RegExp(value);
  } catch (error) {
    throw new ConfigError(`${JSON.stringify(value)} is not a valid regular expression (${(error as Error).message})`, {
      file,
      keyPath,
      hint,
      cause: error,
    });
  }
  if (!linearEngine()) return pattern;
  try {
    return new RegExp(value, 'l');
  } catch (error) {
    throw new ConfigError(`${JSON.stringify(value)} cannot be matched in time linear in the path: it has a backreference, a lookaround or a large repetition count`, {
      file,
      keyPath,
      hint: "rewrite it without them, as in cloudflared's Go regular expressions (which have no backreferences or lookarounds either)",
      cause: error,
    });
  }
}

let linear: boolean | undefined;

/**
 * Paths are matched with V8's linear-time regexp engine (the `l` flag, behind a V8 flag), as cloudflared's Go
 * regexp matches in linear time: with backtracking, a rule like `^(a+)+$` lets one visitor's URL hold the
 * connector for minutes. False on a runtime without that engine, which then backtracks.
 */
function linearEngine(): boolean {
  if (linear === undefined) {
    try {
      setFlagsFromString('--enable-experimental-regexp-engine');
      linear = new RegExp('^/', 'l').test('/');
    } catch {
      linear = false;
    }
  }
  return linear;
}

// A misspelt `hostname:` or `path:` turns a rule into a catch-all, so point at the likely typo.
function catchAllTypoHint(config: IngressRuleConfig): string | undefined {
  for (const key of Object.keys(config)) {
    const meant = didYouMean(key, ['hostname', 'path']);
    if (meant !== undefined && meant !== key) return `did you mean "${meant}:" instead of "${key}:"?`;
  }
  return undefined;
}

/** An IPv6 literal, bare or bracketed, without its brackets; undefined when `value` is not one. */
function ipv6Literal(value: string): string | undefined {
  const inner = /^\[(.*)\]$/.exec(value)?.[1] ?? value;
  if (!/^[0-9a-f:.]+$/i.test(inner) || inner.split(':').length < 3) return undefined;
  return inner.toLowerCase();
}

// Go's URL.Path, which cloudflared matches against, is percent-decoded; matching the decoded form
// also keeps "/%61dmin" from slipping past a rule for "^/admin".
function requestPath(raw: string): string {
  const end = raw.search(/[?#]/);
  const pathOnly = end < 0 ? raw : raw.slice(0, end);
  try {
    return decodeURIComponent(pathOnly) || '/';
  } catch {
    return pathOnly || '/';
  }
}
