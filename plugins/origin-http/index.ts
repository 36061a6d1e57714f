// Built-in plugin: `http://`, `https://`, `ws://` and `wss://` origins, proxied with http-proxy-3 over keep-alive pools.
import { definePlugin } from '../../core/plugin.ts';
import { createHttpOrigin } from './http2-origin.ts';

// cloudflared treats ws:// and wss:// as http:// and https:// origins that also take upgrades.
const SCHEMES = new Set(['http', 'https', 'ws', 'wss']);

export default definePlugin({
  id: 'origin-http',
  description: 'http://, https://, ws:// and wss:// services (all of them accept WebSocket upgrades)',
  connector(api) {
    api.hooks.resolveOrigin.tap('origin-http', (service, { rule, configDir }) => {
      if (service.kind !== 'url' || !SCHEMES.has(service.scheme)) return undefined;
      return createHttpOrigin({ url: httpUrl(service.url) }, rule.originRequest, configDir);
    });
  },
});

/** ws://host -> http://host and wss://host -> https://host: the same origin, spoken to over HTTP first. */
function httpUrl(url: URL): URL {
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return url;
  const http = new URL(url.href);
  http.protocol = url.protocol === 'ws:' ? 'http:' : 'https:';
  return http;
}
