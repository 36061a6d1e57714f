// Built-in plugin: one access-log line per request, on the edge (per visitor request) and on the connector (per
// request it proxied), with the ray id that ties the two together.
import { z } from 'zod';
import { definePlugin, type Logger } from 'burrow';

const accessLogOptions = z.strictObject({
  /** The level access lines are written at; below the logger's level they cost nothing. */
  level: z.enum(['trace', 'debug', 'info', 'warn']).default('info'),
});

/** The header the network puts on a forwarded request: the PoPs it crossed, landing PoP first. */
const PATH_HEADER = 'burrow-path';

export default definePlugin({
  id: 'access-log',
  description: 'one log line per request (ray id, host, status, bytes, duration, PoP path) on the edge and the connector',
  options: accessLogOptions,

  edge(api, { level }) {
    const pop = api.settings.pop;
    // The edge's logger already names the PoP on every line (a binding, serialised once).
    const log = api.log.child({ log: 'access' });
    if (!enabled(log, level)) return;
    // An observer, not middleware: without middleware the edge sends a request straight to its tunnel.
    api.hooks.requestDone.tap('access-log', (request) => {
      log[level](
        {
          ray: request.ray,
          method: request.method,
          host: request.hostname,
          path: request.path,
          status: request.status,
          bytes: request.bytes,
          ms: request.ms,
          // The PoPs a forwarded request crosses (this one first); without forwarding, this PoP.
          pops: request.forwardedPath?.join(',') ?? pop,
          tunnel: request.tunnel,
          client: request.clientIp,
          ...(request.completed ? {} : { aborted: true }),
        },
        'request',
      );
    });
  },

  connector(api, { level }) {
    const log = api.log.child({ log: 'access' });
    if (!enabled(log, level)) return;
    // An observer, not middleware: a rule without middleware keeps the connector's lighter way to its origin.
    api.hooks.requestDone.tap('access-log', (request) => {
      const crossed = request.headers[PATH_HEADER];
      log[level](
        {
          ray: request.ray,
          method: request.method,
          host: request.hostname,
          path: request.path,
          status: request.status,
          bytes: request.bytes,
          ms: request.ms,
          // The PoPs the request crossed; without a network it is the PoP the ray id names.
          pops: typeof crossed === 'string' ? crossed : request.ray.slice(request.ray.lastIndexOf('-') + 1),
          rule: request.rule,
          client: request.clientIp,
          ...(request.completed ? {} : { aborted: true }),
        },
        'request',
      );
    });
  },
});

function enabled(log: Logger, level: string): boolean {
  return log.isLevelEnabled(level);
}
