// Built-in plugin: `http://`, `https://`, `ws://` and `wss://` origins, proxied with http-proxy-3 over keep-alive pools.
import { defineOrigin, definePlugin } from 'burrow';
import { HttpOrigin } from './origin.ts';
import { httpOriginOptions } from './options.ts';

const httpOrigins = defineOrigin({
  // cloudflared treats ws:// and wss:// as http:// and https:// origins that also take upgrades.
  schemes: ['http', 'https', 'ws', 'wss'],
  examples: ['http://host:port', 'https://...'],
  options: httpOriginOptions,
  parse(service, fail) {
    const shown = JSON.stringify(service.raw);
    const { url, scheme } = service;
    if (url === undefined) return fail(`${shown} is not a valid service URL`, `use ${scheme}://host:port`);
    if (url.hostname === '') return fail(`${shown} is not a valid service URL: it has no host`, `use ${scheme}://host:port`);
    if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      return fail(
        `${shown} has a path, but ingress rules don't support proxying to a different path on the origin service; ` +
          `the path is the same as the visitor's request path`,
        `use ${url.origin} as the service, and the rule's path: key to match requests by path`,
      );
    }
    return httpUrl(url);
  },
  create: (url, { originRequest, configDir }) => new HttpOrigin(withoutUserinfo(url), originRequest, configDir),
});

export default definePlugin({
  id: 'origin-http',
  description: 'http://, https://, ws:// and wss:// services (all of them accept WebSocket upgrades)',
  origins: [httpOrigins],
});

/** `http://user:pass@host` -> `http://host`, with `user:pass` kept apart as the Basic auth the origin gets. */
function withoutUserinfo(url: URL): { url: URL; auth?: string } {
  if (url.username === '' && url.password === '') return { url };
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return { url: bare, auth: `${decoded(url.username)}:${decoded(url.password)}` };
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a lone % is taken as written
  }
}

/** ws://host -> http://host and wss://host -> https://host: the same origin, spoken to over HTTP first. */
function httpUrl(url: URL): URL {
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return url;
  const http = new URL(url.href);
  http.protocol = url.protocol === 'ws:' ? 'http:' : 'https:';
  return http;
}
