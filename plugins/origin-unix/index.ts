// Built-in plugin: `unix:PATH` and `unix+tls:PATH` services, HTTP over a unix socket through origin-http's HttpOrigin (HTTP/2 with http2Origin).
import path from 'node:path';
import { definePlugin } from '../../core/plugin.ts';
import { createHttpOrigin } from '../origin-http/http2-origin.ts';

export default definePlugin({
  id: 'origin-unix',
  description: 'unix:PATH and unix+tls:PATH services',
  connector(api) {
    api.hooks.resolveOrigin.tap('origin-unix', (service, { rule, configDir }) => {
      if (service.kind !== 'unix') return undefined;
      // The URL only picks TLS or not and the default SNI name; the socket path says where to connect.
      const url = new URL(service.scheme === 'unix+tls' ? 'https://localhost' : 'http://localhost');
      return createHttpOrigin({ url, socketPath: path.resolve(configDir, service.socketPath) }, rule.originRequest, configDir);
    });
  },
});
