// The `originRequest` options of HTTP origins (origin-http, and origin-unix through it), with cloudflared's names and defaults.
import { DURATION_HINT, tryParseDuration, z } from 'burrow';

const BOOLEAN_HINT = 'use true or false';
const TEXT_HINT = 'use a non-empty string';

/** A Go-style duration ("30s", "1m30s", or a number of seconds), in milliseconds; its problem says what is wrong. */
function duration(fallback: string, description: string) {
  return z
    .union([z.string(), z.number()], {
      error: (issue) => {
        const parsed = tryParseDuration(issue.input);
        return parsed.ok ? undefined : parsed.problem;
      },
    })
    .transform((value, ctx) => {
      const parsed = tryParseDuration(value);
      if (parsed.ok) return parsed.ms;
      ctx.addIssue({ code: 'custom', message: parsed.problem, input: value });
      return z.NEVER;
    })
    .prefault(fallback)
    .meta({ description: `${description}; a Go-style duration such as "30s", "1m30s" or "500ms", or a number of seconds`, hint: DURATION_HINT });
}

const flag = (description: string) => z.boolean().default(false).meta({ description, hint: BOOLEAN_HINT });
const text = (description: string, hint = TEXT_HINT) => z.string().min(1).optional().meta({ description, hint });

export const httpOriginOptions = z.object({
  connectTimeout: duration('30s', 'how long to wait for a TCP connection to the origin'),
  tlsTimeout: duration('10s', 'how long the TLS handshake with the origin may take'),
  tcpKeepAlive: duration('30s', 'TCP keep-alive probe interval on origin connections'),
  noHappyEyeballs: flag('connect to the first address only, without Happy Eyeballs (RFC 8305)'),
  keepAliveConnections: z
    .number()
    .int()
    .min(0)
    .default(100)
    .meta({ description: 'idle connections kept open to the origin (0: none)', hint: 'use a whole number, 0 or more' }),
  keepAliveTimeout: duration('1m30s', 'how long an idle pooled connection stays open'),
  httpHostHeader: text('the Host header the origin receives'),
  originServerName: text("the name the origin's certificate is checked for (and sent as SNI)"),
  caPool: text('PEM file of CA certificates the origin is verified with (relative to the config file)', 'use the path to a PEM file of CA certificates'),
  noTLSVerify: flag("accept any certificate from the origin"),
  disableChunkedEncoding: flag('send the origin only bodies of known length (others get 411)'),
  http2Origin: flag('talk HTTP/2 to a TLS origin that offers it'),
  proxyAddress: text('accepted for cloudflared configs', 'use an address to listen on, e.g. 127.0.0.1'),
  proxyPort: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .meta({ description: 'accepted for cloudflared configs', hint: 'use a port number from 0 to 65535' }),
  proxyType: z.enum(['', 'socks']).optional().meta({ description: 'accepted for cloudflared configs', hint: 'use "socks" or leave it empty' }),
  bastionMode: flag('accepted for cloudflared configs'),
  // Burrow's own: how long an origin may take to start its response (Cloudflare's edge allows 100 s).
  responseTimeout: duration('100s', 'how long the origin may take to start its response'),
  // Accepted so cloudflared configs load unchanged; Burrow does not enforce Cloudflare Access.
  access: z
    .looseObject({})
    .optional()
    .meta({ description: 'Cloudflare Access settings: accepted, not enforced', hint: 'use a mapping, e.g. { required: true, teamName: my-team }' }),
});

/** The options in effect for one rule: durations in milliseconds, defaults filled in. */
export type HttpOriginOptions = z.output<typeof httpOriginOptions>;
