// Example third-party plugin: an `echo:` origin scheme, with no change to Burrow's core.
// `service: echo:` answers every request itself: GET/HEAD describe the request as JSON, other methods
// stream the request body back (a handy service for testing tunnels and middleware).
import { defineOrigin, definePlugin, z } from 'burrow';

const options = z.strictObject({
  /** Added to every answer as `x-echo-by`. */
  name: z.string().default('burrow-echo'),
});

// The originRequest key this origin reads, set per rule or at the top level like cloudflared's own keys.
const echoOptions = z.object({
  /** Sent back as `x-echo-header`: the value of this request header, so a test sees what reached the origin. */
  echoHeader: z
    .string()
    .regex(/^[a-z0-9-]+$/i, { error: (issue) => `${JSON.stringify(issue.input)} is not a header name` })
    .optional()
    .meta({ description: 'a request header whose value the answer repeats as x-echo-header', hint: 'use a header name such as x-request-id' }),
});

export default definePlugin({
  id: 'echo-origin',
  description: 'echo: services that reflect the request',
  options,
  origins: [
    defineOrigin({
      // Services without `//` parse as `{ scheme, rest }`: `echo:` and `echo:label` both land here.
      schemes: ['echo'],
      examples: ['echo:label'],
      options: echoOptions,
      create(service, { originRequest: { echoHeader }, pluginOptions: { name } }) {
        const label = service.rest || undefined;
        return {
          async serve({ req, res, ray, clientIp }) {
            const headers: Record<string, string | number> = { 'x-echo-by': name };
            if (echoHeader !== undefined) headers['x-echo-header'] = String(req.headers[echoHeader.toLowerCase()] ?? '');
            if (req.method === 'GET' || req.method === 'HEAD') {
              req.resume();
              const body = JSON.stringify({ label, method: req.method, path: req.url, headers: req.headers, ray, clientIp });
              res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
              if (req.method === 'HEAD') res.end();
              else res.end(body);
              return;
            }
            // Stream the body straight back; pipe() respects backpressure both ways.
            res.writeHead(200, { ...headers, 'content-type': String(req.headers['content-type'] ?? 'application/octet-stream') });
            await new Promise<void>((resolve, reject) => {
              req.pipe(res);
              res.once('finish', resolve);
              res.once('close', resolve);
              req.once('error', reject);
            });
          },
        };
      },
    }),
  ],
});
