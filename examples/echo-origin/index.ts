// Example third-party plugin: an `echo:` origin scheme, with no change to Burrow's core.
// `service: echo:` answers every request itself: GET/HEAD describe the request as JSON, other methods
// stream the request body back (a handy service for testing tunnels and middleware).
import { definePlugin, z } from 'burrow';

const options = z.strictObject({
  /** Added to every answer as `x-echo-by`. */
  name: z.string().default('burrow-echo'),
});

export default definePlugin({
  id: 'echo-origin',
  description: 'echo: services that reflect the request',
  options,
  connector(api, { name }) {
    api.hooks.resolveOrigin.tap('echo-origin', (service) => {
      // Services without `//` parse as `{ kind: 'builtin', scheme, rest }`: `echo:` and `echo:label` both land here.
      if (service.kind !== 'builtin' || service.scheme !== 'echo') return undefined;
      const label = service.rest || undefined;
      return {
        async serve({ req, res, ray, clientIp }) {
          if (req.method === 'GET' || req.method === 'HEAD') {
            req.resume();
            const body = JSON.stringify({ label, method: req.method, path: req.url, headers: req.headers, ray, clientIp });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-echo-by': name });
            if (req.method === 'HEAD') res.end();
            else res.end(body);
            return;
          }
          // Stream the body straight back; pipe() respects backpressure both ways.
          res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/octet-stream'), 'x-echo-by': name });
          await new Promise<void>((resolve, reject) => {
            req.pipe(res);
            res.once('finish', resolve);
            res.once('close', resolve);
            req.once('error', reject);
          });
        },
      };
    });
  },
});
