// `burrow tunnel run` and `burrow tunnel ingress validate|rule`; other plugins add the other `tunnel` commands (create, token, --url, ...).
import { ConfigError, Connector, Ingress, createLogger, loadConfig, normalizeHost, validateConfig, type BurrowConfig, type CliPluginApi } from 'burrow';

export function registerTunnelCommands(api: CliPluginApi): void {
  const tunnel = api
    .command('tunnel', 'create, route and run tunnels')
    // Options plugins give `tunnel` itself (quick tunnels' --url, --edge) must not swallow the same flags given to `tunnel run`.
    .enablePositionalOptions();

  tunnel
    .command('run [name]')
    .description('run the connector for a tunnel (name or id; default: `tunnel:` in the config)')
    .option('-c, --config <file>', 'connector config (cloudflared config.yml keys work as-is)')
    .option('--edge <address...>', 'edge tunnel address(es) host:port, instead of the one in cert.pem')
    .option('--token <token>', 'run the tunnel from a `burrow tunnel token` string (default: $BURROW_TUNNEL_TOKEN); needs no cert.pem')
    .option('--url <url>', 'send every request to this origin instead of using ingress rules')
    .option('--inspect [address]', 'serve the request inspector on host:port (default 127.0.0.1:4040)')
    .action(
      api.action(async (name: string | undefined, options: { config?: string; edge?: string[]; token?: string; url?: string; inspect?: string | true }) => {
        const loaded = await loadConfig(options.config);
        const file = loaded.file;
        let config = loaded.config;
        if (options.url) config = withUrl(config, options.url, file);
        if (options.inspect) config = { ...config, inspect: validateConfig({ inspect: options.inspect === true ? '127.0.0.1:4040' : options.inspect }).inspect };
        const token = options.token ?? process.env.BURROW_TUNNEL_TOKEN;
        // With --url the rules come from the flag, so reading the file again would drop them: no reload then.
        const connector = new Connector({ config, configFile: file, tunnel: name, token, edges: options.edge, reloadable: !options.url, log: createLogger({ level: config.loglevel }) });
        connector.once('fatal', (error: Error) => {
          process.stderr.write(`error: ${error.message}\n`);
          process.exit(1);
        });
        // Before start: a SIGTERM while the first connection is still being made stops the connector cleanly too.
        api.onShutdownSignals(() => connector.stop(), () => connector.abort());
        await connector.start();
      }),
    );

  const ingress = tunnel.command('ingress').description('check ingress rules');
  ingress
    .command('validate')
    .description('check the ingress rules; exits non-zero with the problem if they are invalid')
    .option('-c, --config <file>', 'connector config')
    .action(
      api.action(async (options: { config?: string }) => {
        const { file, config } = await loadConfig(options.config);
        const connector = new Connector({ config, configFile: file, log: createLogger({ level: 'warn' }) });
        await connector.prepare();
        await connector.stop(0);
        process.stdout.write(`Validating rules from ${file ?? '(no config file)'}\nOK\n`);
      }),
    );
  ingress
    .command('rule <url>')
    .description('print which ingress rule matches URL')
    .option('-c, --config <file>', 'connector config')
    .action(
      api.action(async (raw: string, options: { config?: string }) => {
        const { file, config } = await loadConfig(options.config);
        const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
        const rules = Ingress.parse(config.ingress as never, config.originRequest as never, { file });
        const rule = rules.match(normalizeHost(url.host), url.pathname);
        process.stdout.write(`Using rules from ${file ?? '(no config file)'}\nMatched rule #${rule.index + 1}\n${indent(rule.describe())}\n`);
      }),
    );
}

/** `--url`: one catch-all rule. Mixing it with ingress rules from a file would leave it unclear which wins. */
function withUrl(config: BurrowConfig, url: string, file: string | undefined): BurrowConfig {
  if (config.ingress?.length) {
    throw new ConfigError('--url cannot be combined with ingress rules', { file, keyPath: 'ingress', hint: 'drop --url, or run without the config file' });
  }
  return { ...config, ingress: [{ service: url }] };
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `\t${line}`)
    .join('\n');
}
