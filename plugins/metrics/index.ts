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
    const duration = new Histogram({ name: 'burrow_edge_request_duration_seconds', help: 'Visitor request time to response end, by PoP', labelNames: ['pop'], buckets, registers: [registry] });
    const pop = { pop: api.settings.pop };
    new Gauge({
      name: 'burrow_edge_connections',
      help: 'Connector connections registered on this PoP',
      registers: [registry],
      collect() {
        this.set(api.connections.all().length);
      },
    });
    // An observer, not middleware: without middleware the edge sends a request straight to its tunnel.
    const timed = duration.labels(pop);
    const byStatus = childrenOf(requests);
    api.hooks.requestDone.tap('metrics', (request) => {
      // Requests sent in full: one cut short has no response end to time.
      if (!request.completed) return;
      timed.observe(request.ms / 1000);
      byStatus(String(request.status), { status: request.status }).inc();
    });
    api.route('GET', '/metrics', async () => ({ text: await registry.metrics(), headers: { 'content-type': registry.contentType } }), { auth: 'none' });
  },

  connector(api) {
    const registry = new Registry();
    api.services.provide(MetricsToken, registry);
    const series = connectorSeries(registry, () => api.requestsInFlight());
    // Registered connections by index, with the PoP each one is at (cloudflared's server_locations).
    const connections = new Map<number, string>();
    const connected = () => connections.size;
    new Gauge({ name: 'burrow_connector_connections', help: 'Registered connections to the edge', registers: [registry], collect() { this.set(connected()); } });
    new Gauge({ name: 'burrow_tunnel_ha_connections', help: 'Number of active HA connections', registers: [registry], collect() { this.set(connected()); } });
    api.hooks.afterConnect.tap('metrics', ({ index, pop }) => {
      connections.set(index, pop);
      series.locations.set({ connection_id: index, edge_location: pop }, 1);
    });
    api.hooks.connectionLost.tap('metrics', ({ index, pop }) => {
      connections.delete(index);
      series.locations.remove({ connection_id: index, edge_location: pop });
    });
    const durations = childrenOf(series.duration);
    const requests = childrenOf(series.requests);
    const byCode = childrenOf(series.byCode);
    // An observer, not middleware: a rule without middleware keeps the connector's lighter way to its origin.
    api.hooks.requestDone.tap('metrics', (request) => {
      const { rule, status } = request;
      // The ray id ends in the name of the PoP the visitor landed at.
      const pop = request.ray.slice(request.ray.lastIndexOf('-') + 1);
      durations(`${rule} ${pop}`, { rule, pop }).observe(request.ms / 1000);
      series.total.inc();
      requests(`${rule} ${status}`, { rule, status }).inc();
      byCode(String(status), { status_code: status }).inc();
      // An answer the connector made up because the origin failed (502/504 with the reason for the edge's page).
      if (request.originFailed || !request.completed) series.errors.inc();
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
        const status = connected() > 0 ? 200 : 503;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status, readyConnections: connected(), connectorId: api.connectorId }));
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

/**
 * A labelled metric's children, each made once per label set (named by `key`): counting on a child skips
 * prom-client's hashing of the labels on every request. Bounded: forgets all past 10,000 label sets.
 */
function childrenOf<Child>(metric: { labels(labels: Record<string, string | number>): Child }): (key: string, labels: Record<string, string | number>) => Child {
  const children = new Map<string, Child>();
  return (key, labels) => {
    let child = children.get(key);
    if (child === undefined) {
      if (children.size >= 10_000) children.clear();
      child = metric.labels(labels);
      children.set(key, child);
    }
    return child;
  };
}

/** The connector's request series, named as cloudflared names them where they mean the same. */
function connectorSeries(registry: Registry, inFlight: () => number) {
  const registers = [registry];
  return {
    requests: new Counter({ name: 'burrow_connector_requests_total', help: 'Requests by ingress rule and status', labelNames: ['rule', 'status'], registers }),
    total: new Counter({ name: 'burrow_tunnel_total_requests', help: 'Amount of requests proxied through all the tunnels', registers }),
    errors: new Counter({ name: 'burrow_tunnel_request_errors', help: 'Amount of requests that failed: the origin could not be reached or broke off', registers }),
    byCode: new Counter({ name: 'burrow_tunnel_response_by_code', help: 'Count of responses by HTTP status code', labelNames: ['status_code'], registers }),
    concurrent: new Gauge({ name: 'burrow_tunnel_concurrent_requests_per_tunnel', help: 'Concurrent requests proxied through each tunnel', registers, collect() { this.set(inFlight()); } }),
    locations: new Gauge({ name: 'burrow_tunnel_server_locations', help: 'Where each HA connection was registered (connection index and PoP)', labelNames: ['connection_id', 'edge_location'], registers }),
    duration: new Histogram({ name: 'burrow_tunnel_request_duration_seconds', help: 'Time from the request to the end of the response, by ingress rule and the PoP the visitor landed at', labelNames: ['rule', 'pop'], buckets, registers }),
  };
}
