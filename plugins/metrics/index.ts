// Built-in plugin: the runtime's Prometheus registry (MetricsToken), served on the edge's API and on the connector's metrics address.
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { definePlugin, MetricsToken, splitHostPort } from 'burrow';

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export default definePlugin({
  id: 'metrics',
  description: 'The Prometheus registry other plugins add series to; /metrics and /ready',
  provides: ['metrics'],

  edge(api) {
    const registry = new Registry();
    api.services.provide(MetricsToken, registry);
    collectDefaultMetrics({ register: registry, prefix: 'burrow_edge_' });
    const requests = new Counter({ name: 'burrow_edge_requests_total', help: 'Visitor requests by status', labelNames: ['status'], registers: [registry] });
    const duration = new Histogram({ name: 'burrow_edge_request_duration_seconds', help: 'Visitor request time to response end', buckets, registers: [registry] });
    new Gauge({
      name: 'burrow_edge_connections',
      help: 'Connector connections registered on this PoP',
      registers: [registry],
      collect() {
        this.set(api.connections.all().length);
      },
    });
    api.use(async (ctx, next) => {
      const end = duration.startTimer();
      ctx.res.once('finish', () => {
        end();
        requests.inc({ status: ctx.res.statusCode });
      });
      await next();
    });
    api.route('GET', '/metrics', async () => ({ text: await registry.metrics(), headers: { 'content-type': registry.contentType } }), { auth: 'none' });
  },

  connector(api) {
    const registry = new Registry();
    api.services.provide(MetricsToken, registry);
    const requests = new Counter({ name: 'burrow_connector_requests_total', help: 'Requests by ingress rule and status', labelNames: ['rule', 'status'], registers: [registry] });
    let connected = 0;
    new Gauge({ name: 'burrow_connector_connections', help: 'Registered connections to the edge', registers: [registry], collect() { this.set(connected); } });
    api.hooks.afterConnect.tap('metrics', () => void connected++);
    api.hooks.connectionLost.tap('metrics', () => void connected--);
    api.use(async (ctx, next) => {
      ctx.res.once('finish', () => requests.inc({ rule: ctx.rule.index, status: ctx.res.statusCode }));
      await next();
    });
    const address = api.settings.metrics;
    // Without a metrics address nothing scrapes this connector, so the process metrics are not worth collecting.
    if (!address) return;
    collectDefaultMetrics({ register: registry, prefix: 'burrow_connector_' });
    const server = http.createServer(async (req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(await registry.metrics());
      } else if (req.url === '/ready') {
        // cloudflared's shape: the HTTP status again, the registered connections, and which connector this is.
        const status = connected > 0 ? 200 : 503;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status, readyConnections: connected, connectorId: api.connectorId }));
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('OK\n');
      } else {
        res.writeHead(404).end();
      }
    });
    const { host, port } = splitHostPort(address);
    server.listen(port, host, () => api.log.info({ address }, 'metrics listening'));
    return () => new Promise<void>((resolve) => server.close(() => resolve()));
  },
});
