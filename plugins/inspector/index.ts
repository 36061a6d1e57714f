// Built-in plugin: the request inspector. With `inspect:` (or `tunnel run --inspect`), the connector keeps its last
// requests and serves a web UI on that address to look at them and replay them.
import { once } from 'node:events';
import { ConfigError, definePlugin, splitHostPort, validateConfig, z } from 'burrow';
import { capture } from './capture.ts';
import { createReplayer } from './replay.ts';
import { createInspectorServer } from './server.ts';
import { ExchangeStore } from './store.ts';

const inspectorOptions = z.strictObject({
  /** Requests kept; the oldest leaves when a new one arrives. */
  max: z.number().int().min(1).max(10_000).default(200),
  /** Bytes kept of each request body and each response body. */
  bodyBytes: z.number().int().min(0).max(1024 * 1024).default(16 * 1024),
});

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1)$/i;

export default definePlugin({
  id: 'inspector',
  description: 'the request inspector: recent requests with headers, bodies and timing, and replay, on the `inspect:` address',
  options: inspectorOptions,

  async connector(api, { max, bodyBytes }) {
    const address = api.settings.inspect;
    // Without an address nobody can look, so nothing is recorded.
    if (!address) return;
    const store = new ExchangeStore(max);
    const replayer = createReplayer(api.inject, store);
    api.use(async (ctx, next) => {
      // WebSockets and other upgrades are connections, not requests to list and replay.
      if (!ctx.upgrade) capture(ctx, store, bodyBytes, replayer.takeReplayOf(ctx.ray));
      await next();
    });

    const { host, port } = splitHostPort(validateConfig({ inspect: address }).inspect!);
    if (!LOOPBACK.test(host)) {
      api.log.warn({ address }, 'the request inspector listens beyond this machine: anyone who reaches it sees every request with its headers and bodies, and can replay them');
    }
    const server = createInspectorServer(address, store, replayer);
    server.listen(port, host);
    try {
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error))]);
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new ConfigError(`the request inspector cannot listen on ${address}: ${code ?? (error as Error).message}`, {
        file: api.configFile,
        keyPath: 'inspect',
        hint: code === 'EADDRINUSE' ? 'another program uses that port; pick another, e.g. --inspect 127.0.0.1:4041' : 'use a local address such as 127.0.0.1:4040',
      });
    }
    api.log.info({ address, url: `http://${address}/` }, 'request inspector listening');
    return () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  },
});
