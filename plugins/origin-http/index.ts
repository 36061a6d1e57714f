// Built-in plugin: `http://` and `https://` origins, proxied with http-proxy-3 over keep-alive pools.
import { definePlugin } from '../../core/kernel/plugin.ts';
import { createHttpOrigin } from './http2-origin.ts';

export default definePlugin({
  id: 'origin-http',
  description: 'http:// and https:// services',
  connector(api) {
    api.hooks.resolveOrigin.tap('origin-http', (service, { rule, configDir }) => {
      if (service.kind !== 'url' || (service.scheme !== 'http' && service.scheme !== 'https')) return undefined;
      return createHttpOrigin({ url: service.url }, rule.originRequest, configDir);
    });
  },
});
