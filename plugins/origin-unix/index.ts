// Built-in plugin: `unix:PATH` and `unix+tls:PATH` services, HTTP over a unix socket through origin-http's HttpOrigin (HTTP/2 with http2Origin).
import path from 'node:path';
import { defineOrigin, definePlugin } from 'burrow';
import { HttpOrigin } from '../origin-http/origin.ts';
import { httpOriginOptions } from '../origin-http/options.ts';

export default definePlugin({
  id: 'origin-unix',
  description: 'unix:PATH and unix+tls:PATH services',
  requires: ['origin-http'],
  origins: [
    defineOrigin({
      schemes: ['unix', 'unix+tls'],
      examples: ['unix:/path'],
      options: httpOriginOptions,
      parse(service, fail) {
        if (service.rest === '') return fail(`${JSON.stringify(service.raw)} names no socket path`, `use ${service.scheme}:/path/to/socket`);
        return { secure: service.scheme === 'unix+tls', socketPath: service.rest };
      },
      create({ secure, socketPath }, { originRequest, configDir }) {
        // The URL only picks TLS or not and the default SNI name; the socket path says where to connect.
        const url = new URL(secure ? 'https://localhost' : 'http://localhost');
        return new HttpOrigin({ url, socketPath: path.resolve(configDir, socketPath) }, originRequest, configDir);
      },
    }),
  ],
});
