// The error catalogue: every error Burrow raises on purpose carries a stable code users can search for.

/**
 * Stable error codes and what they mean. Codes never change once released (scripts and docs rely
 * on them), so add new entries rather than renaming old ones. A BurrowError is a mistake the user can
 * fix and says how; plugin hooks and setup let it through as it is instead of reporting a plugin crash.
 */
export const errorCodes = {
  BURROW_ERR_CONFIG: 'the configuration is invalid (a config file, a flag, a credentials file or a tunnel token)',
  BURROW_ERR_ORIGIN_CERT: 'cert.pem is missing, unreadable, broken or expired',
  BURROW_ERR_CA: "the edge's CA files in its data folder are broken",
  BURROW_ERR_TOKEN: 'a tunnel token cannot be made here',
  BURROW_ERR_LOGIN: '`burrow login` failed',
  BURROW_ERR_QUICK_TUNNEL: 'the edge does not offer quick tunnels',
  BURROW_ERR_PLUGIN: 'a plugin failed in its setup or in a hook (a bug or outage in that plugin)',
  BURROW_ERR_REGISTRATION_REFUSED: 'the edge refused a connector connection (credentials, certificate or protocol)',
  BURROW_ERR_EDGE_CERT: "the connector cannot verify the edge's TLS certificate: the CA in cert.pem or the tunnel token is not the edge's",
  BURROW_ERR_ROUTE_CONFLICT: 'the hostname is already routed to another tunnel',
  BURROW_ERR_TUNNEL_EXISTS: 'a tunnel of that name already exists in the zone',
  BURROW_ERR_ORIGIN: 'the connector could not get an answer from the origin (502, 503 or 504 to the visitor)',
  BURROW_ERR_REGISTRY: 'the shared tunnel registry (Redis) cannot be reached, so tunnels and routes cannot be changed',
  BURROW_ERR_EDGE_API: 'the edge API refused a call or cannot be reached (the message gives its reason and what to do; `status` the HTTP status, 0 when unreachable)',
  BURROW_ERR_EDGE_UNREACHABLE: 'the connector gave up on the edge after the configured `retries` reconnect attempts; the message gives the last reason a connection failed',
  BURROW_ERR_PROTOCOL: 'the peer sent something that is not a Burrow control message (a broken peer, or not a Burrow edge/connector on that port)',
  BURROW_ERR_SERVICE_CONFLICT: 'two plugins provide the same service; enable only one plugin per role (core/kernel/roles.ts)',
  BURROW_ERR_SERVICE_MISSING: 'a plugin needs a service no enabled plugin provides; enable a plugin that provides it',
  BURROW_ERR_LISTEN: 'the edge cannot open a listener: the address is in use, needs privileges or is not on this machine, or a plugin asked for a listener name that is taken',
  BURROW_ERR_NO_EDGES: 'the connector knows no edge address: pass --edge, log in again so cert.pem names the edge, or enable an edge-discovery plugin',
  BURROW_ERR_FILE_UNREADABLE: 'a file Burrow keeps (a key, a token, credentials) exists but cannot be read: check its permissions',
  BURROW_ERR_REGISTRY_FILE: "the registry file in the edge's data folder (registry.json) is not valid JSON; restore it from a backup, or move it away to start with no tunnels",
  BURROW_ERR_JWKS: "the jwt plugin's `jwksFile` cannot be read or is not a JWKS document (a JSON object with a `keys` list)",
  BURROW_ERR_CERT_REQUEST: 'a certificate cannot be issued as asked: the signing request is not a valid PKCS#10 request for an ECDSA P-256 key, or the zones, names or validity are unusable',
  BURROW_ERR_LOGIN_ANSWERED: 'a `burrow login` request was approved or denied when it had already been answered',
  BURROW_ERR_POP_LINK: 'a link to another PoP failed: its certificate names another PoP, or the link went down while a request was being forwarded',
} as const satisfies Record<string, string>;

export type BurrowErrorCode = keyof typeof errorCodes;

export class BurrowError extends Error {
  readonly code: BurrowErrorCode;
  readonly hint?: string;

  constructor(code: BurrowErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
  }
}

/**
 * A catalogued error for a problem whose message does not say which plugin met it (a file it cannot read, a port it
 * cannot bind). Unlike a BurrowError it does not pass through plugin setup and hooks as it is: they wrap it in a
 * PluginError that names the plugin and where it failed, and the code stays on that PluginError's cause.
 */
export class AttributedError extends Error {
  readonly code: BurrowErrorCode;

  constructor(code: BurrowErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** A problem in a config file, reported as `file: key.path: problem. Fix: hint`. */
export class ConfigError extends BurrowError {
  readonly file?: string;
  readonly keyPath?: string;

  constructor(message: string, opts: { file?: string; keyPath?: string; hint?: string; cause?: unknown }) {
    const where = [opts.file, opts.keyPath].filter((part) => part !== undefined && part !== '');
    const prefix = where.map((part) => `${part}: `).join('');
    const fix = opts.hint === undefined ? '' : `${/[.!?]$/.test(message) ? '' : '.'} Fix: ${opts.hint}`;
    super('BURROW_ERR_CONFIG', `${prefix}${message}${fix}`, opts);
    this.file = opts.file;
    this.keyPath = opts.keyPath;
  }
}

/** ['ingress', 2, 'service'] -> 'ingress[2].service'; keys that are not plain words are quoted. */
export function formatKeyPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[^\s.[\]"]+$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** The candidate closest to a mistyped word, if one is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  // One edit per four letters (at least one): looser matching suggests unrelated words.
  let bestDistance = Math.max(1, Math.floor(word.length / 4)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** A config value as it should appear in an error message: strings quoted, structures as JSON. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
