// Built-in plugin: `burrow demo` (npm start), a dev edge, a demo origin and a connector in one process, with the URL to open.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Connector, Edge, EdgeClient, createLogger, definePlugin, devEdgeSettings, validateConfig, type CliPluginApi, type CreatedTunnel } from 'burrow';
import { ConnectorKeysToken, type LoginResponse } from '../origin-ca/service.ts';

export default definePlugin({
  id: 'demo',
  description: '`burrow demo`: a local edge, connector and demo origin in one process',
  // The demo logs in through origin-ca's API with a key origin-ca makes.
  requires: ['origin-ca'],
  cli: registerDemoCommand,
});

function registerDemoCommand(api: CliPluginApi): void {
  api.program
    .command('demo')
    .description('start a local edge, a demo origin and a connector, and print the URL to open')
    .option('--port <port>', 'visitor port on 127.0.0.1', '8080')
    .action(
      api.action(async (options: { port: string }) => {
        const log = createLogger({ level: process.env.BURROW_LOG_LEVEL ?? 'warn' });
        const origin = await startDemoOrigin();
        const settings = await devEdgeSettings({ http: `127.0.0.1:${options.port}`, tunnel: '127.0.0.1:0', api: '127.0.0.1:0' });
        const edge = Edge.fromConfig(settings, { log });
        const addresses = await edge.start();

        // Log in, create and route a tunnel through the same API the CLI uses.
        const token = process.env.BURROW_EDGE_TOKEN || (await readFile(edge.adminTokenFile!, 'utf8')).trim();
        const { keyPem, csrPem } = await api.services.get(ConnectorKeysToken).createKeyAndCsr({ zones: ['localhost'] });
        const admin = new EdgeClient(`http://${addresses.api}`, token);
        const login = await admin.request<LoginResponse>('POST', '/v1/login', { csr: csrPem });
        const created = await admin.request<CreatedTunnel>('POST', '/v1/tunnels', { name: 'demo' });
        await admin.request('PUT', '/v1/routes/demo.localhost', { tunnel: 'demo' });

        const connector = new Connector({
          config: validateConfig({
            'ha-connections': 2,
            ingress: [{ hostname: 'demo.localhost', service: `http://127.0.0.1:${origin.port}` }, { service: 'http_status:404' }],
          }),
          log,
          credentials: {
            tunnelId: created.tunnel.id,
            tunnelSecret: created.secret,
            tunnelName: created.tunnel.name,
            zone: created.tunnel.zone,
            tls: { caPem: login.ca, certPem: login.certificate, keyPem },
            edge: login.edge.tunnel,
          },
        });
        await connector.start();
        const port = addresses.http!.split(':').pop();
        process.stdout.write(
          `\nBurrow is running: a local edge, a connector with 2 connections, and a demo origin.\n\n` +
            `  Open  http://demo.localhost:${port}/\n\n` +
            `  (curl: curl -H 'Host: demo.localhost' http://127.0.0.1:${port}/)\n` +
            `  Edge API: http://${addresses.api}   Press Ctrl-C to stop.\n`,
        );
        api.onShutdownSignals(
          async () => {
            await connector.stop(5_000);
            await edge.stop(1_000);
            origin.server.close();
          },
          () => connector.abort(),
        );
      }),
    );
}

async function startDemoOrigin(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const rows = Object.entries(req.headers)
      .map(([name, value]) => `<tr><td>${escape(name)}</td><td>${escape(String(value))}</td></tr>`)
      .join('');
    const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Burrow demo origin</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48em;margin:3em auto;padding:0 1em}td{padding:.2em .8em;border-bottom:1px solid #eee;font-family:monospace}</style></head>
<body><h1>It works: this page came through a Burrow tunnel</h1>
<p>The edge took your request, opened an HTTP/2 stream on a connection the connector dialed out, and the connector proxied it to this origin on 127.0.0.1.</p>
<p><b>${escape(req.method ?? '')} ${escape(req.url ?? '')}</b> — ray <code>${escape(String(req.headers['burrow-ray'] ?? ''))}</code></p>
<table>${rows}</table></body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
