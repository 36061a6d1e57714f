// Built-in plugin: `http_status:NNN`, a fixed status with an empty body (cloudflared's catch-all).
import { definePlugin } from '../../core/kernel/plugin.ts';

export default definePlugin({
  id: 'origin-status',
  description: 'http_status:NNN services',
  connector(api) {
    api.hooks.resolveOrigin.tap('origin-status', (service) => {
      if (service.kind !== 'status') return undefined;
      const { status } = service;
      return {
        async serve({ req, res }) {
          req.resume();
          res.writeHead(status, { 'content-length': '0' });
          res.end();
        },
      };
    });
  },
});
