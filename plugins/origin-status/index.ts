// Built-in plugin: `http_status:NNN`, a fixed status with an empty body (cloudflared's catch-all).
import { definePlugin } from '../../core/plugin.ts';
import { ConfigError } from '../../core/kernel/errors.ts';

export default definePlugin({
  id: 'origin-status',
  description: 'http_status:NNN services',
  connector(api) {
    api.hooks.resolveOrigin.tap('origin-status', (service, { rule, configFile }) => {
      if (service.kind !== 'status') return undefined;
      const { status } = service;
      // 1xx are interim responses: a request cannot end with one, so the visitor would wait forever.
      if (status < 200) {
        const error = new ConfigError(`"${service.raw}" is an informational (1xx) status, which cannot end a response`, {
          file: configFile,
          keyPath: `ingress[${rule.index}].service`,
          hint: 'use a final status from 200 to 599, e.g. http_status:404',
        });
        throw Object.assign(error, { expected: true });
      }
      // 204 and 304 never carry a body, so they carry no Content-Length either.
      const headers: Record<string, string> = status === 204 || status === 304 ? {} : { 'content-length': '0' };
      return {
        async serve({ req, res }) {
          req.resume();
          res.writeHead(status, headers);
          res.end();
        },
      };
    });
  },
});
