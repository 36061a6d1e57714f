// The edge's seams a network of PoPs builds on, each tapped by a plugin: presence, forwarding, streams to a
// tunnel, shared trust, route and tunnel removal, plugin listeners, and middleware that wraps the whole response.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import {
  ApiError,
  definePlugin,
  splitHostPort,
  type CertifiedKey,
  type EdgeConnectionInfo,
  type PresenceRecord,
  type RouteRecord,
  type TunnelRecord,
} from '../../core/index.ts';
import { inline, sharedTrust } from '../helpers/shared-trust.ts';
import { createTunnel, startConnector, startEdge, startOrigin, stopWorld, eventually, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('presence: which connections a tunnel has, awaited', () => {
  let edge: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  const events: string[] = [];
  let seenAtRegister: PresenceRecord[] = [];
  const observer = definePlugin({
    id: 'presence-observer',
    edge(api) {
      api.hooks.afterRegister.tapPromise('presence-observer', async (connection: EdgeConnectionInfo) => {
        // Awaited before the connector hears "registered": the registry already has this connection.
        seenAtRegister = await api.connections.everywhere(connection.tunnelId);
        await delay(50);
        events.push(`registered ${connection.connIndex}`);
      });
      api.hooks.connectionLost.tapPromise('presence-observer', async (connection) => {
        events.push(`lost ${connection.connIndex}`);
      });
    },
  });

  before(async () => {
    edge = await startEdge({}, { plugins: [inline(observer)] });
    origin = await startOrigin((_req, res) => res.end('ok'));
  });
  after(() => stopWorld({ connector, edge, origin }));

  it('lists live connections through the registry, and forgets them when they end', async () => {
    const credentials = await createTunnel(edge, 'present', ['present.example.test']);
    connector = await startConnector(credentials, { 'ha-connections': 1, ingress: [{ service: origin.url }] });
    assert.deepEqual(events, ['registered 0'], 'the connector started only after the awaited hook finished');
    assert.equal(seenAtRegister.length, 1);
    assert.equal(seenAtRegister[0]!.pop, 'test');
    assert.equal(seenAtRegister[0]!.connectorId, connector.connectorId);

    const answer = await edge.admin.request<{ tunnel: { connections: Array<{ id: string; pop: string }> } }>('GET', '/v1/tunnels/present');
    assert.deepEqual(answer.tunnel.connections.map((c) => c.pop), ['test']);

    await connector.stop(0);
    connector = undefined;
    await eventually(() => events.includes('lost 0'), 10_000, 'connectionLost');
    assert.deepEqual(await edge.edge.connections.everywhere(credentials.tunnelId), []);
  });
});

describe('forwarding: a plugin takes a request to the PoP that serves the tunnel', () => {
  let near: TestEdge;
  let far: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  const forwarded: string[] = [];

  before(async () => {
    far = await startEdge({ pop: 'far' });
    origin = await startOrigin((req, res) => res.end(`origin saw ${req.headers['burrow-ray']}${req.headers['x-via'] ? ` via ${req.headers['x-via']}` : ''}`));
    const credentials = await createTunnel(far, 'remote', ['remote.example.test']);
    connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
    const elsewhere: TunnelRecord = { id: credentials.tunnelId, name: 'remote', zone: 'example.test', createdAt: new Date().toISOString() };
    // Knows that remote.example.test lives at "far" and opens its streams on far's tunnel connections (in-process).
    const network = definePlugin({
      id: 'toy-network',
      edge(api) {
        api.hooks.resolveTunnel.tapPromise('toy-network', async (hostname) => (hostname === 'remote.example.test' ? elsewhere : undefined));
        api.hooks.resolveForwarding.tapPromise('toy-network', async (ctx) => {
          if (ctx.tunnel?.id !== elsewhere.id || api.connections.forTunnel(elsewhere.id).length > 0) return undefined;
          forwarded.push(ctx.ray);
          return {
            via: 'far',
            open: (headers, options) => {
              const opened = far.edge.connections.openStream(elsewhere.id, { ...headers, 'x-via': 'far' }, options);
              if (!opened) throw new Error('far has no connection');
              return opened.stream;
            },
          };
        });
      },
    });
    near = await startEdge({ pop: 'near' }, { plugins: [inline(network)] });
  });
  after(() => stopAll(() => stopWorld({ connector, edge: far, origin }), () => stopWorld({ edge: near })));

  it('answers a visitor at one PoP from a tunnel connected at another', async () => {
    const response = await visit(near.url, '/hello', { host: 'remote.example.test' });
    assert.equal(response.status, 200);
    assert.match(response.text, /^origin saw [0-9a-f]{16}-near via far$/);
    assert.equal(forwarded.length, 1);
    assert.match(forwarded[0]!, /-near$/);
  });

  it('leaves other hostnames to the local path', async () => {
    assert.equal((await visit(near.url, '/', { host: 'unknown.example.test' })).status, 404);
  });
});

describe('the edge API opens a stream to a tunnel', () => {
  let edge: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  const probe = definePlugin({
    id: 'tunnel-probe',
    edge(api) {
      api.route(
        'GET',
        '/v1/probe/:tunnel',
        async (req) => {
          const opened = api.connections.openStream(req.params.tunnel!, { ':method': 'GET', ':path': '/health', ':authority': 'probe.example.test', ':scheme': 'http' }, { endStream: true });
          if (!opened) throw new ApiError(503, 'no connection here');
          const { stream, connection } = opened;
          const [headers, body] = await Promise.all([
            new Promise<http.IncomingHttpHeaders>((resolve) => stream.once('response', (h) => resolve(h as never))),
            (async () => {
              const chunks: Buffer[] = [];
              for await (const chunk of stream) chunks.push(chunk as Buffer);
              return Buffer.concat(chunks).toString();
            })(),
          ]);
          return { json: { status: Number(headers[':status']), body, pop: connection.pop } };
        },
        { auth: 'admin' },
      );
    },
  });

  before(async () => {
    edge = await startEdge({}, { plugins: [inline(probe)] });
    origin = await startOrigin((req, res) => res.end(`healthy at ${req.url}`));
    const credentials = await createTunnel(edge, 'probed', []);
    connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
    probedId = credentials.tunnelId;
  });
  let probedId = '';
  after(() => stopWorld({ connector, edge, origin }));

  it('reaches the origin through the least-loaded connection', async () => {
    const answer = await edge.admin.request<{ status: number; body: string; pop: string }>('GET', `/v1/probe/${probedId}`);
    assert.deepEqual(answer, { status: 200, body: 'healthy at /health', pop: 'test' });
    assert.deepEqual(
      edge.edge.connections.forTunnel(probedId).map((c) => c.activeStreams),
      [0, 0],
      'the stream is counted while open and released when it closes',
    );
  });
});

describe('shared trust: two PoPs with one trust store', () => {
  let shared: { ca: CertifiedKey };
  let fra: TestEdge;
  let iad: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;

  before(async () => {
    const trust = await sharedTrust();
    shared = trust;
    fra = await startEdge({ pop: 'fra' }, { plugins: [trust.plugin] });
    iad = await startEdge({ pop: 'iad' }, { plugins: [trust.plugin] });
    origin = await startOrigin((_req, res) => res.end('served'));
  });
  after(() => stopAll(() => stopWorld({ connector, edge: iad, origin }), () => stopWorld({ edge: fra })));

  it('a zone token issued at one PoP is accepted at the other, and both hand out the same CA', async () => {
    const credentials = await createTunnel(fra, 'shared', []);
    const atIad = new EdgeClient(iad.api, credentials.apiToken);
    await atIad.request('GET', '/v1/tunnels');
    assert.equal(credentials.tls.caPem, shared.ca.certPem);
  });

  it('a connector certified at one PoP registers at the other', async () => {
    const fromFra = await createTunnel(fra, 'certified-at-fra', []);
    const atIad = await createTunnel(iad, 'runs-at-iad', ['iad.example.test']);
    // The certificate and key came from fra; the tunnel lives in iad's registry.
    connector = await startConnector({ ...atIad, tls: fromFra.tls }, { ingress: [{ service: origin.url }] });
    assert.equal((await visit(iad.url, '/', { host: 'iad.example.test' })).text, 'served');
  });
});

describe('routes and tunnels leave through one place', () => {
  let edge: TestEdge;
  const events: string[] = [];
  const publisher = definePlugin({
    id: 'route-publisher',
    edge(api) {
      api.hooks.afterCreateTunnel.tap('route-publisher', (tunnel: TunnelRecord) => void events.push(`create ${tunnel.name}`));
      api.hooks.afterRouteHostname.tap('route-publisher', (route: RouteRecord) => void events.push(`route ${route.hostname}`));
      api.hooks.afterUnrouteHostname.tap('route-publisher', (route: RouteRecord) => void events.push(`unroute ${route.hostname}`));
      api.hooks.afterDeleteTunnel.tap('route-publisher', (tunnel: TunnelRecord) => void events.push(`delete ${tunnel.name}`));
    },
  });
  before(async () => {
    edge = await startEdge({ quickTunnels: 'quick.example.test' }, { plugins: [inline(publisher)] });
  });
  after(() => stopWorld({ edge }));

  it('fires create, route, unroute and delete hooks for the management API', async () => {
    await createTunnel(edge, 'published', ['a.example.test', 'b.example.test', 'c.example.test']);
    const unrouted = await edge.admin.request<{ unrouted: string }>('DELETE', '/v1/routes/a.example.test');
    assert.equal(unrouted.unrouted, 'a.example.test');
    assert.equal((await visit(edge.url, '/', { host: 'a.example.test' })).status, 404, 'an unrouted hostname is unknown at once');
    await edge.admin.request('DELETE', '/v1/tunnels/published');
    assert.deepEqual(events, [
      'create published',
      'route a.example.test',
      'route b.example.test',
      'route c.example.test',
      'unroute a.example.test',
      'unroute b.example.test',
      'unroute c.example.test',
      'delete published',
    ]);
  });
});

describe('plugin listeners are reported with the edge addresses', () => {
  let edge: TestEdge;
  let seen: Record<string, string | undefined> = {};
  const greeter = definePlugin({
    id: 'greeter',
    async edge(api) {
      const server = net.createServer((socket) => socket.end('hello from a plugin listener\n'));
      await api.listen('greeter', server, '127.0.0.1:0');
      api.hooks.afterListen.tap('greeter', (addresses) => {
        seen = { ...addresses };
      });
    },
  });
  before(async () => {
    edge = await startEdge({}, { plugins: [inline(greeter)] });
  });
  after(() => stopWorld({ edge }));

  it('binds it, names it in afterListen and edge.addresses, and closes it on stop', async () => {
    const address = edge.edge.addresses!.greeter!;
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    assert.equal(seen.greeter, address);
    assert.ok(seen.tunnel && seen.api);
    const { host, port } = splitHostPort(address);
    const greeting = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, host);
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.once('end', () => resolve(text));
      socket.once('error', reject);
    });
    assert.equal(greeting, 'hello from a plugin listener\n');
    await edge.stop();
    await assert.rejects(
      new Promise((resolve, reject) => net.connect(port, host).once('connect', resolve).once('error', reject)),
      /ECONNREFUSED/,
    );
  });
});

describe("edge middleware's next() settles when the response has ended", () => {
  let edge: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  const observed: Array<{ ended: boolean; bytes: number; status: number }> = [];
  const timing = definePlugin({
    id: 'response-observer',
    edge(api) {
      api.use(async (ctx, next) => {
        let bytes = 0;
        const write = ctx.res.write.bind(ctx.res);
        ctx.res.write = ((chunk: Buffer, ...rest: never[]) => {
          bytes += chunk.length;
          return write(chunk, ...rest);
        }) as typeof ctx.res.write;
        await next();
        observed.push({ ended: ctx.res.writableEnded, bytes, status: ctx.res.statusCode });
      });
    },
  });

  before(async () => {
    edge = await startEdge({}, { plugins: [inline(timing)] });
    origin = await startOrigin(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 5; i++) {
        res.write(Buffer.alloc(1000, 'x'));
        await delay(40);
      }
      res.end();
    });
    const credentials = await createTunnel(edge, 'slow', ['slow.example.test']);
    connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
  });
  after(() => stopWorld({ connector, edge, origin }));

  it('sees the whole streamed body and the final status', async () => {
    const response = await visit(edge.url, '/', { host: 'slow.example.test' });
    assert.equal(response.body.length, 5000);
    assert.deepEqual(observed, [{ ended: true, bytes: 5000, status: 200 }]);
  });

  it('and the edge pages too', async () => {
    await visit(edge.url, '/', { host: 'nobody.example.test' });
    assert.deepEqual(observed.at(-1), { ended: true, bytes: 0, status: 404 });
  });
});

describe('the connector tells the edge its protocol version', () => {
  let edge: TestEdge;
  let connector: Connector | undefined;
  const protocols: unknown[] = [];
  const recorder = definePlugin({
    id: 'protocol-recorder',
    edge(api) {
      api.hooks.beforeRegister.tap('protocol-recorder', ({ request }) => void protocols.push(request.protocol));
    },
  });
  before(async () => {
    edge = await startEdge({}, { plugins: [inline(recorder)] });
  });
  after(() => stopWorld({ connector, edge }));

  it('sends PROTOCOL_VERSION at registration', async () => {
    const credentials = await createTunnel(edge, 'versioned', []);
    connector = await startConnector(credentials, { 'ha-connections': 1, ingress: [{ service: 'http_status:204' }] });
    assert.deepEqual(protocols, [1]);
  });
});
