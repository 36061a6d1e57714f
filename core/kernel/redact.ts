// Secrets never reach a log: every line is scrubbed of credentials on its way out.

/** Keys whose values are secrets, wherever they appear in a line (headers, options, errors). */
const SECRET_KEY = /authorization|cookie|secret|token|password|passwd|api[-_]?key/i;
/** ...except keys that name where a secret lives, not the secret itself (adminTokenFile, tokenPath). */
const LOCATION_KEY = /(file|path|dir)$/i;
/** A JSON `"key":` followed by a string, or an array of strings (Set-Cookie). */
const KEYED_VALUE = /"([^"\\]*)":("(?:[^"\\]|\\.)*"|\[(?:"(?:[^"\\]|\\.)*",?)*\])/g;
/** The userinfo of any URL: `scheme://user:pass@` -> `scheme://[redacted]@`. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"\\]+@/gi;
/** Credentials spelled out in text: `Bearer abc...`, `Basic dXNl...`. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g;
/** Burrow's zone API tokens, in any text. */
const ZONE_TOKEN = /\bbzt\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;

export const REDACTED = '[redacted]';

/**
 * Scrubs one serialised (JSON) log line: values under secret-looking keys, URL userinfo, Bearer/Basic
 * credentials and zone tokens become `[redacted]`. Lines without any of them come back untouched and
 * cost a few `includes`/`test` calls.
 */
export function redactSecrets(line: string): string {
  let out = line;
  if (SECRET_KEY.test(out)) {
    out = out.replace(KEYED_VALUE, (whole, key: string) => (SECRET_KEY.test(key) && !LOCATION_KEY.test(key) ? `"${key}":"${REDACTED}"` : whole));
  }
  return redactText(out);
}

/** Scrubs free text (an error message bound for a visitor's page): URL userinfo, Bearer/Basic credentials, zone tokens. */
export function redactText(text: string): string {
  let out = text;
  if (out.includes('@')) out = out.replace(URL_USERINFO, `$1${REDACTED}@`);
  if (out.includes('Bearer') || out.includes('Basic')) out = out.replace(AUTH_SCHEME, `$1 ${REDACTED}`);
  if (out.includes('bzt.')) out = out.replace(ZONE_TOKEN, REDACTED);
  return out;
}
