// Ingress rules: which origin service handles a request, by hostname and path, with cloudflared's semantics.
import { domainToASCII, fileURLToPath } from 'node:url';
import { ConfigError, didYouMean, formatKeyPath, showValue } from '../kernel/errors.ts';
import { parseOriginRequest, resolveOriginRequest, type OriginRequestConfig, type OriginRequestOptions } from './origin-request.ts';

export interface IngressRuleConfig {
  hostname?: string;
  path?: string;
  service: string;
  originRequest?: OriginRequestConfig;
  /** Plugins may add per-rule keys, e.g. middleware. */
  [extra: string]: unknown;
}

/** Where a rule sends requests. Plugins claim other `scheme://` URLs and builtin words when origins are built. */
export type ServiceSpec =
  | { kind: 'url'; scheme: string; url: URL; raw: string }
  | { kind: 'unix'; scheme: 'unix' | 'unix+tls'; socketPath: string; raw: string }
  /** `dir` is absolute, or relative to the config file (`file://./site`); a query in `raw` is for the plugin. */
  | { kind: 'file'; scheme: 'file'; dir: string; raw: string }
  | { kind: 'status'; scheme: 'http_status'; status: number; raw: string }
  | { kind: 'builtin'; scheme: string; rest: string; raw: string };

const SERVICE_HINT = 'use http://host:port, https://..., unix:/path, file:///dir, http_status:404 or hello_world';
const CATCH_ALL_HINT = 'add a final catch-all rule without hostname or path, e.g. `- service: http_status:404`';
const HTTP_SCHEMES = new Set(['http', 'https', 'ws', 'wss']);

export function parseService(raw: string, keyPath: string, file?: string): ServiceSpec {
  const fail = (problem: string, hint = SERVICE_HINT): never => {
    throw new ConfigError(problem, { file, keyPath, hint });
  };
  const value: unknown = raw;
  if (value === undefined || value === null) return fail('is missing');
  if (typeof value !== 'string' || value.trim() === '') return fail(`${showValue(value)} is not a valid service`);
  const text = value.trim();
  const shown = JSON.stringify(raw);
  const scheme = /^([a-z][a-z0-9_+.-]*):/i.exec(text)?.[1]!.toLowerCase();
  const rest = scheme === undefined ? text : text.slice(scheme.length + 1);
  if (scheme === 'file') return parseFileService(raw, text, fail);
  if (scheme === 'unix' || scheme === 'unix+tls') {
    if (rest === '') return fail(`${shown} names no socket path`, `use ${scheme}:/path/to/socket`);
    return { kind: 'unix', scheme, socketPath: rest, raw };
  }
  if (scheme === 'http_status') {
    const status = Number(rest);
    if (!/^\d+$/.test(rest) || status < 100 || status > 599) {
      return fail(`${shown} is not a valid HTTP status`, 'use a status code from 100 to 599, e.g. http_status:404');
    }
    return { kind: 'status', scheme, status, raw };
  }
  if (scheme !== undefined && rest.startsWith('//')) return parseUrlService(raw, text, fail);
  // "localhost:8080" reads as scheme "localhost"; a bare port after it means the scheme was forgotten.
  const hostPort = /^([\w.-]+|\[[0-9a-f:.]+\]):\d+$/i.test(text) || /^\d+(\.\d+){3}$/.test(text);
  if (hostPort) return fail(`${shown} is not a valid service: it has no scheme`, `add one, e.g. http://${text}`);
  if (scheme === undefined && !/^[a-z][a-z0-9_+.-]*$/i.test(text)) return fail(`${shown} is not a valid service`);
  return { kind: 'builtin', scheme: scheme ?? text.toLowerCase(), rest: scheme === undefined ? '' : rest, raw };
}

function parseUrlService(raw: string, text: string, fail: (problem: string, hint?: string) => never): ServiceSpec {
  const shown = JSON.stringify(raw);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(`${shown} is not a valid service URL`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (url.hostname === '') return fail(`${shown} is not a valid service URL: it has no host`, `use ${scheme}://host:port`);
  if (HTTP_SCHEMES.has(scheme) && ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '')) {
    return fail(
      `${shown} has a path, but ingress rules don't support proxying to a different path on the origin service; ` +
        `the path is the same as the visitor's request path`,
      `use ${url.origin} as the service, and the rule's path: key to match requests by path`,
    );
  }
  return { kind: 'url', scheme, url, raw };
}

function parseFileService(raw: string, text: string, fail: (problem: string, hint?: string) => never): ServiceSpec {
  const problem = `${JSON.stringify(raw)} is not a valid file:// URL`;
  const hint = 'use an absolute directory, e.g. file:///srv/www, or one relative to the config file, e.g. file://./site';
  if (!/^file:\/\//i.test(text)) return fail(problem, hint);
  // "file://./site" and "file://../site": a folder relative to the config file, resolved by the plugin serving it.
  const relative = /^file:\/\/(\.\.?(?:\/[^?#]*)?)(?:[?#].*)?$/i.exec(text);
  if (relative) {
    try {
      return { kind: 'file', scheme: 'file', dir: decodeURIComponent(relative[1]!), raw };
    } catch {
      return fail(problem, hint);
    }
  }
  try {
    // Rejects a host part, so "file://relative/dir" fails rather than silently meaning "/dir".
    return { kind: 'file', scheme: 'file', dir: fileURLToPath(text), raw };
  } catch {
    return fail(problem, hint);
  }
}

export class IngressRule {
  readonly index: number;
  /** Lower-case ASCII (punycode), `*.suffix` for a wildcard; absent when the rule matches every host. */
  readonly hostname?: string;
  readonly path?: RegExp;
  readonly service: ServiceSpec;
  readonly originRequest: OriginRequestOptions;
  readonly config: IngressRuleConfig;

  constructor(init: {
    index: number;
    hostname?: string;
    path?: RegExp;
    service: ServiceSpec;
    originRequest: OriginRequestOptions;
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
    return this.matchesHost(normalizeRequestHost(host)) && (this.path === undefined || this.path.test(requestPath(path)));
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

  static parse(
    rules: IngressRuleConfig[] | undefined,
    topLevelOriginRequest: OriginRequestConfig | undefined,
    opts: { file?: string } = {},
  ): Ingress {
    const { file } = opts;
    const topLevel = parseOriginRequest(topLevelOriginRequest, ['originRequest'], file);
    // Without ingress, cloudflared answers every request with 503.
    if (rules === undefined || rules === null) {
      const config: IngressRuleConfig = { service: 'http_status:503' };
      const service = parseService(config.service, 'ingress[0].service', file);
      return new Ingress([new IngressRule({ index: 0, service, originRequest: resolveOriginRequest(topLevel), config })]);
    }
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
      parsed.push(parseRule(config, index, topLevel, file));
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

function parseRule(config: IngressRuleConfig, index: number, topLevel: OriginRequestConfig, file: string | undefined): IngressRule {
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
  const service = parseService(config.service, keyPath('service'), file);
  const own = parseOriginRequest(config.originRequest, ['ingress', index, 'originRequest'], file);
  return new IngressRule({ index, hostname, path: pathPattern, service, originRequest: resolveOriginRequest(topLevel, own), config });
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
  try {
    return new RegExp(value);
  } catch (error) {
    throw new ConfigError(`${JSON.stringify(value)} is not a valid regular expression (${(error as Error).message})`, {
      file,
      keyPath,
      hint,
      cause: error,
    });
  }
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

function normalizeRequestHost(host: string): string {
  let name = host.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\]/.exec(name);
  if (bracketed) name = bracketed[1]!;
  // A single colon separates a port; more than one is a bare IPv6 address.
  else if (name.indexOf(':') === name.lastIndexOf(':')) name = name.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
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
