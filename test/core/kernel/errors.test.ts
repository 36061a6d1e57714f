// The error catalogue: every code Burrow raises is listed once in core/kernel/errors.ts, and every listed code is used.
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { Container } from 'inversify';
import { errorCodes } from '../../../core/kernel/errors.ts';
import { AttributedError, ConfigError, Edge, EdgeApiError, EdgeClient, OriginError, PluginError, RegistrationRefused, RouteConflictError, definePlugin, readIfExists, serviceToken } from '../../../core/index.ts';
import { removeDir, tempDir } from '../../helpers/harness.ts';
import { defaultPlugins } from '../../../config/default.ts';
import { resolveRuntimePlugins } from '../../../core/kernel/loader.ts';
import { createConnectorHooks } from '../../../core/connector/hooks.ts';
import { ConnectionSupervisor } from '../../../core/connector/supervisor.ts';
import { RegistrationError, type TunnelConnection } from '../../../core/connector/tunnel-connection.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { ServiceError, ServiceRegistry } from '../../../core/kernel/services.ts';
import { ProtocolError, parseEdgeMessage } from '../../../core/transport/protocol.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(repo, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !file.includes(`${path.sep}node_modules${path.sep}`));
}

describe('error codes', () => {
  it('every BURROW_ERR_* code in the source is in the catalogue, and every catalogued code is raised somewhere', async () => {
    const used = new Map<string, string>();
    const catalogue = path.join(repo, 'core/kernel/errors.ts');
    for (const file of [...(await sources('core')), ...(await sources('plugins')), ...(await sources('examples'))]) {
      if (file === catalogue) continue;
      for (const [code] of (await readFile(file, 'utf8')).matchAll(/BURROW_ERR_[A-Z_]+/g)) used.set(code, path.relative(repo, file));
    }
    const unknown = [...used].filter(([code]) => !(code in errorCodes)).map(([code, file]) => `${code} (${file})`);
    assert.deepEqual(unknown, [], 'codes raised but missing from core/kernel/errors.ts');
    const unused = Object.keys(errorCodes).filter((code) => code !== 'BURROW_ERR_CONFIG' && !used.has(code));
    assert.deepEqual(unused, [], 'catalogued codes nothing raises');
  });

  it("Burrow's own error classes carry catalogued codes", () => {
    const errors: Array<[Error & { code: string }, string]> = [
      [new ConfigError('bad', { keyPath: 'x' }), 'BURROW_ERR_CONFIG'],
      [new RegistrationRefused('no', false), 'BURROW_ERR_REGISTRATION_REFUSED'],
      [new RegistrationError('invalid tunnel secret', false), 'BURROW_ERR_REGISTRATION_REFUSED'],
      [new RouteConflictError('a.example.test', 'tunnel'), 'BURROW_ERR_ROUTE_CONFLICT'],
      [new OriginError(502, 'down'), 'BURROW_ERR_ORIGIN'],
      [new PluginError('p', 'setup', new Error('boom')), 'BURROW_ERR_PLUGIN'],
      [new ProtocolError('control message too large'), 'BURROW_ERR_PROTOCOL'],
      [new EdgeApiError(404, 'no tunnel "web" in example.test'), 'BURROW_ERR_EDGE_API'],
      [new ServiceError('BURROW_ERR_SERVICE_CONFLICT', 'twice'), 'BURROW_ERR_SERVICE_CONFLICT'],
      [new AttributedError('BURROW_ERR_LISTEN', 'cannot listen on 127.0.0.1:80'), 'BURROW_ERR_LISTEN'],
    ];
    for (const [error, code] of errors) {
      assert.ok(error.code in errorCodes, `${error.constructor.name} has ${error.code}, which is not catalogued`);
      assert.equal(error.code, code, error.constructor.name);
    }
  });

  it('every error class in core/ and plugins/ carries a catalogued code, or is listed here as one no user sees', async () => {
    // Each of these becomes something that carries a code before a user sees it.
    const uncoded = new Map([
      ['ApiError', 'an API answer (status and hint in JSON); the client raises it as an EdgeApiError'],
      ['TooManyLoginRequests', 'login-page turns it into an ApiError (429)'],
      ['ReplayRefused', "the inspector turns it into its API's HTTP status"],
    ]);
    const offenders: string[] = [];
    for (const file of [...(await sources('core')), ...(await sources('plugins'))]) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/class (\w+) extends Error\b[^{]*\{([\s\S]*?)\n\}/g)) {
        const [, name, body] = match;
        if (uncoded.has(name!)) continue;
        if (name === 'BurrowError' || /\bcode\b/.test(body!)) continue;
        offenders.push(`${name} (${path.relative(repo, file)})`);
      }
    }
    assert.deepEqual(offenders, [], 'error classes with no catalogue code: extend BurrowError, or give them a `code`');
  });

  it('a control message that is not of the protocol is a ProtocolError with its code', () => {
    assert.throws(() => parseEdgeMessage('{"type":"welcome"}'), (error: unknown) => error instanceof ProtocolError && error.code === 'BURROW_ERR_PROTOCOL');
    assert.throws(() => parseEdgeMessage('not json'), (error: unknown) => error instanceof ProtocolError && error.code === 'BURROW_ERR_PROTOCOL');
  });

  it('a service provided twice, or asked for and missing, carries its code', () => {
    const services = new ServiceRegistry(new Container());
    const token = serviceToken<string>('test.error-codes');
    services.provide(token, 'first');
    assert.throws(() => services.provide(token, 'second'), (error: unknown) => error instanceof ServiceError && error.code === 'BURROW_ERR_SERVICE_CONFLICT' && /already provided/.test(error.message));
    assert.throws(() => services.get(serviceToken('test.error-codes-missing')), (error: unknown) => error instanceof ServiceError && error.code === 'BURROW_ERR_SERVICE_MISSING');
  });

  it('an edge API refusal, an unreachable edge API and an answer that is not JSON are EdgeApiErrors with their code', async () => {
    const server: Server = createServer((req, res) => {
      if (req.url === '/v1/refused') {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'missing or invalid API token', hint: 'run `burrow login` again' }));
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>not an edge</html>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const refused = await new EdgeClient(base).request('GET', '/v1/refused').catch((error: unknown) => error);
      assert.ok(refused instanceof EdgeApiError);
      assert.equal(refused.code, 'BURROW_ERR_EDGE_API');
      assert.equal(refused.status, 401);
      assert.equal(refused.hint, 'run `burrow login` again');
      assert.equal(refused.message, 'missing or invalid API token (run `burrow login` again)');

      const html = await new EdgeClient(base).request('GET', '/v1/tunnels').catch((error: unknown) => error);
      assert.ok(html instanceof EdgeApiError, String(html));
      assert.equal(html.code, 'BURROW_ERR_EDGE_API');
      assert.match(html.message, /not JSON.*--edge URL/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const unreachable = await new EdgeClient(base).request('GET', '/v1/tunnels').catch((error: unknown) => error);
    assert.ok(unreachable instanceof EdgeApiError);
    assert.equal(unreachable.code, 'BURROW_ERR_EDGE_API');
    assert.equal(unreachable.status, 0);
    assert.match(unreachable.message, /cannot reach the edge API/);
  });

  it('a connector that gives up after its retries stops with BURROW_ERR_EDGE_UNREACHABLE and the last reason', async () => {
    const failing = () => {
      const connection = new EventEmitter() as EventEmitter & { connect(): Promise<never>; close(): void };
      connection.connect = async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      };
      connection.close = () => undefined;
      return connection as unknown as TunnelConnection;
    };
    const supervisor = new ConnectionSupervisor({
      haConnections: 1,
      retries: 2,
      resolveEdges: async () => [{ host: '127.0.0.1', port: 1 }],
      createConnection: failing,
      hooks: createConnectorHooks(),
      log: silentLogger,
      backoff: { baseMs: 1, capMs: 5 },
    });
    const fatal = new Promise<Error & { code?: string }>((resolve) => supervisor.once('fatal', resolve));
    supervisor.start();
    const error = await fatal;
    await supervisor.shutdown(0);
    assert.equal(error.code, 'BURROW_ERR_EDGE_UNREACHABLE');
    assert.match(error.message, /^gave up after 2 retries: connect ECONNREFUSED/);
  });
  it('a connector with no edge address to try keeps retrying with BURROW_ERR_NO_EDGES as the reason it gives up on', async () => {
    const supervisor = new ConnectionSupervisor({
      haConnections: 1,
      retries: 1,
      resolveEdges: async () => [],
      createConnection: () => assert.fail('no edge address, so no connection is made'),
      hooks: createConnectorHooks(),
      log: silentLogger,
      backoff: { baseMs: 1, capMs: 5 },
    });
    const fatal = new Promise<Error & { code?: string; cause?: Error & { code?: string } }>((resolve) => supervisor.once('fatal', resolve));
    supervisor.start();
    const error = await fatal;
    await supervisor.shutdown(0);
    assert.equal(error.code, 'BURROW_ERR_EDGE_UNREACHABLE');
    assert.equal(error.cause?.code, 'BURROW_ERR_NO_EDGES');
    assert.match(error.message, /^gave up after 1 retries: no edge addresses found; pass --edge HOST:PORT/);
  });

  it('an edge that cannot bind an address, or is asked for https without a certificate, says so with its code', async () => {
    const dataDir = await tempDir('burrow-errors-');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
    try {
      const busy = Edge.fromConfig({ pop: 'test', dataDir, listen: { http: taken, tunnel: '127.0.0.1:0', api: '127.0.0.1:0' } }, { log: silentLogger });
      const inUse = await busy.start().catch((error: unknown) => error);
      await busy.stop(0);
      assert.ok(inUse instanceof AttributedError, String(inUse));
      assert.equal(inUse.code, 'BURROW_ERR_LISTEN');
      assert.match(inUse.message, new RegExp(`^cannot listen on ${taken}: the address is already in use\\. Fix:`));

      const https = Edge.fromConfig({ pop: 'test', dataDir, listen: { https: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0' } }, { log: silentLogger });
      const noCert = await https.start().catch((error: unknown) => error);
      await https.stop(0);
      assert.ok(noCert instanceof ConfigError, String(noCert));
      assert.equal(noCert.code, 'BURROW_ERR_CONFIG');
      assert.equal(noCert.message, 'edge.listen.https needs edge.tls.cert and edge.tls.key');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
      await removeDir(dataDir);
    }
  });

  it("a plugin that asks for a listener name already taken fails naming the plugin, with the listener's code on the cause", async () => {
    const dataDir = await tempDir('burrow-errors-');
    const greedy = definePlugin({
      id: 'greedy-listener',
      async edge(api) {
        await api.listen('http', createServer(), '127.0.0.1:0');
      },
    });
    const edge = Edge.fromConfig({ pop: 'test', dataDir, listen: { tunnel: '127.0.0.1:0', api: '127.0.0.1:0' } }, { log: silentLogger, resolvedPlugins: await resolveRuntimePlugins({ defaults: defaultPlugins, listed: [{ spec: { use: greedy }, keyPath: ['plugins', 0] }] }) });
    try {
      const error = await edge.start().catch((error: unknown) => error);
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.message, /^plugin "greedy-listener" failed in edge setup: plugin greedy-listener asked for a listener named "http", which is taken$/);
      assert.ok(error.cause instanceof AttributedError);
      assert.equal(error.cause.code, 'BURROW_ERR_LISTEN');
    } finally {
      await edge.stop(0);
      await removeDir(dataDir);
    }
  });

  it('a private file that exists but cannot be read is BURROW_ERR_FILE_UNREADABLE; a missing one is no error', async () => {
    const dir = await tempDir('burrow-errors-');
    try {
      assert.equal(await readIfExists(path.join(dir, 'missing')), undefined);
      // A folder where the file should be cannot be read, whoever runs the test (root reads any mode).
      const folder = path.join(dir, 'token');
      await mkdir(folder);
      const error = await readIfExists(folder).catch((error: unknown) => error);
      assert.ok(error instanceof AttributedError, String(error));
      assert.equal(error.code, 'BURROW_ERR_FILE_UNREADABLE');
      assert.ok(error.message.startsWith(`cannot read ${folder}: `), error.message);
    } finally {
      await removeDir(dir);
    }
  });
});
