// Built-in plugin: `http_status:NNN`, a fixed status with an empty body (cloudflared's catch-all).
import { defineOrigin, definePlugin } from 'burrow';

export default definePlugin({
  id: 'origin-status',
  description: 'http_status:NNN services',
  origins: [
    defineOrigin({
      schemes: ['http_status'],
      examples: ['http_status:404'],
      parse(service, fail) {
        const status = Number(service.rest);
        if (!/^\d+$/.test(service.rest) || status < 100 || status > 599) {
          return fail(`${JSON.stringify(service.raw)} is not a valid HTTP status`, 'use a status code from 100 to 599, e.g. http_status:404');
        }
        // 1xx are interim responses: a request cannot end with one, so the visitor would wait forever.
        if (status < 200) {
          return fail(`"${service.raw}" is an informational (1xx) status, which cannot end a response`, 'use a final status from 200 to 599, e.g. http_status:404');
        }
        return status;
      },
      create(status) {
        // 204 and 304 never carry a body, so they carry no Content-Length either.
        const headers: Record<string, string> = status === 204 || status === 304 ? {} : { 'content-length': '0' };
        return {
          async serve({ req, res }) {
            req.resume();
            res.writeHead(status, headers);
            res.end();
          },
        };
      },
    }),
  ],
});
