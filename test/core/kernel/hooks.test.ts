// Tests for the edge and connector hooks: frozen hook sets, tap order, bail and waterfall results, and error attribution.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEdgeHooks, RegistrationRefused, type EdgeConnectionInfo, type TunnelTlsOptions } from '../../../core/edge/hooks.ts';
import { createConnectorHooks, type TunnelCredentials } from '../../../core/connector/hooks.ts';
import type { ConnectorConnectionInfo } from '../../../core/connector/hooks.ts';
import type { TunnelRecord } from '../../../core/edge/registry.ts';
import { PluginError } from '../../../core/kernel/plugin.ts';
import { BurrowError, ConfigError } from '../../../core/kernel/errors.ts';
import { decodeTunnelToken } from '../../../plugins/origin-ca/tunnel-token.ts';
import { OriginCertError } from '../../../plugins/origin-ca/cert-file.ts';

const tunnel = (name: string): TunnelRecord => ({ id: `id-${name}`, name, zone: 'example.test', createdAt: '2024-01-01T00:00:00.000Z' });
const connectorConnection = { index: 0, connectionId: 'c1', pop: 'test', edge: { host: '127.0.0.1', port: 1 } } as ConnectorConnectionInfo;
const connection = { id: 'c1', tunnelId: 't1' } as EdgeConnectionInfo;

/** Asserts a PluginError naming the tapping plugin and the hook, keeping the original error as cause. */
function isPluginError(error: unknown, plugin: string, hook: string, cause?: unknown): boolean {
  assert.ok(error instanceof PluginError, `expected a PluginError, got ${String(error)}`);
  assert.equal(error.pluginId, plugin);
  assert.equal(error.where, `hook ${hook}`);
  assert.ok(error.message.includes(`"${plugin}"`), error.message);
  assert.ok(error.message.includes(hook), error.message);
  if (cause !== undefined) assert.equal(error.cause, cause);
  return true;
}

describe('hook sets are frozen', () => {
  const factories: Array<[name: string, create: () => object]> = [
    ['createEdgeHooks', createEdgeHooks],
    ['createConnectorHooks', createConnectorHooks],
  ];
  for (const [name, create] of factories) {
    it(`${name}() cannot be reassigned, extended or emptied`, () => {
      const hooks = create() as Record<string, unknown>;
      assert.ok(Object.isFrozen(hooks));
      const [first] = Object.keys(hooks);
      const original = hooks[first!];
      // Test files are ES modules, so strict mode: writing to a frozen object throws.
      assert.throws(() => {
        hooks[first!] = {};
      }, TypeError);
      assert.throws(() => {
        hooks.extraHook = {};
      }, TypeError);
      assert.throws(() => {
        delete hooks[first!];
      }, TypeError);
      assert.equal(hooks[first!], original);
      assert.equal('extraHook' in hooks, false);
    });

    it(`${name}() returns a new set each time`, () => {
      const a = create() as Record<string, unknown>;
      const b = create() as Record<string, unknown>;
      const [first] = Object.keys(a);
      assert.notEqual(a[first!], b[first!]);
    });
  }

  it('the edge and connector hooks have the documented names', () => {
    assert.deepEqual(Object.keys(createEdgeHooks()).sort(), [
      'afterCreateTunnel',
      'afterDeleteTunnel',
      'afterListen',
      'afterRegister',
      'afterRouteHostname',
      'afterUnrouteHostname',
      'beforeRegister',
      'beforeRouteHostname',
      'connectionLost',
      'prepareTunnelTls',
      'requestDone',
      'resolveForwarding',
      'resolveTunnel',
    ]);
    assert.deepEqual(Object.keys(createConnectorHooks()).sort(), ['afterConnect', 'connectionLost', 'requestDone', 'resolveCredentials', 'resolveEdges']);
  });
});

describe('tap order and results', () => {
  it('an async bail hook returns the first answer in tap order and skips later taps', async () => {
    const hooks = createEdgeHooks();
    const called: string[] = [];
    hooks.resolveTunnel.tapPromise('no-answer', async () => {
      called.push('no-answer');
      return undefined;
    });
    hooks.resolveTunnel.tap('sync-answer', (hostname) => {
      called.push('sync-answer');
      return hostname === 'a.example.test' ? tunnel('a') : undefined;
    });
    hooks.resolveTunnel.tapPromise('late', async () => {
      called.push('late');
      return tunnel('late');
    });
    assert.deepEqual(await hooks.resolveTunnel.promise('a.example.test'), tunnel('a'));
    assert.deepEqual(called, ['no-answer', 'sync-answer']);
    called.length = 0;
    assert.deepEqual(await hooks.resolveTunnel.promise('b.example.test'), tunnel('late'));
    assert.deepEqual(called, ['no-answer', 'sync-answer', 'late']);
  });

  it('an async bail hook with no answer resolves to undefined', async () => {
    const hooks = createConnectorHooks();
    hooks.resolveCredentials.tapPromise('none', async () => undefined);
    assert.equal(await hooks.resolveCredentials.promise({ configDir: '/tmp' }), undefined);
  });

  it('the waterfall passes each value to the next tap, and keeps it when a tap returns nothing', async () => {
    const hooks = createEdgeHooks();
    hooks.prepareTunnelTls.tap('cert', (tls) => ({ ...tls, cert: 'CERT' }));
    hooks.prepareTunnelTls.tapPromise('observer', async () => undefined as unknown as TunnelTlsOptions);
    hooks.prepareTunnelTls.tapPromise('client-ca', async (tls) => ({ ...tls, ca: `CA for ${String(tls.cert)}`, requestCert: true }));
    assert.deepEqual(await hooks.prepareTunnelTls.promise({ minVersion: 'TLSv1.3' }), { minVersion: 'TLSv1.3', cert: 'CERT', ca: 'CA for CERT', requestCert: true });
  });

  it('a series hook runs every tap in order, awaiting each', async () => {
    const hooks = createEdgeHooks();
    const called: string[] = [];
    hooks.afterListen.tapPromise('slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      called.push('slow');
    });
    hooks.afterListen.tap('fast', () => void called.push('fast'));
    await hooks.afterListen.promise({ tunnel: '127.0.0.1:1', api: '127.0.0.1:2' });
    assert.deepEqual(called, ['slow', 'fast']);
  });

  it('a tap registered with a stage runs by stage, then by tap order', async () => {
    const hooks = createEdgeHooks();
    const called: string[] = [];
    hooks.afterRegister.tap('b', () => void called.push('b'));
    hooks.afterRegister.tap({ name: 'early', stage: -10 }, () => void called.push('early'));
    hooks.afterRegister.tap('c', () => void called.push('c'));
    await hooks.afterRegister.promise(connection);
    assert.deepEqual(called, ['early', 'b', 'c']);
  });
});

describe('errors name the plugin and the hook', () => {
  it('a sync tap that throws on a sync hook', () => {
    const hooks = createConnectorHooks();
    const cause = new Error('bad counter');
    hooks.afterConnect.tap('my-metrics', () => {
      throw cause;
    });
    assert.throws(() => hooks.afterConnect.call(connectorConnection), (error) => isPluginError(error, 'my-metrics', 'afterConnect', cause));
  });

  it('a sync tap that throws on an async hook', async () => {
    const hooks = createEdgeHooks();
    const cause = new Error('lookup failed');
    hooks.resolveTunnel.tap('fine', () => undefined);
    hooks.resolveTunnel.tap('sync-lookup', () => {
      throw cause;
    });
    await assert.rejects(hooks.resolveTunnel.promise('x.example.test'), (error) => isPluginError(error, 'sync-lookup', 'resolveTunnel', cause));
  });

  it('a promise tap that rejects', async () => {
    const hooks = createEdgeHooks();
    const cause = new Error('redis down');
    hooks.resolveTunnel.tapPromise('redis-registry', async () => {
      throw cause;
    });
    await assert.rejects(hooks.resolveTunnel.promise('x.example.test'), (error) => isPluginError(error, 'redis-registry', 'resolveTunnel', cause));
  });

  it('a promise tap that throws before returning a promise', async () => {
    const hooks = createEdgeHooks();
    hooks.prepareTunnelTls.tapPromise('eager', (() => {
      throw new Error('no certificate');
    }) as never);
    await assert.rejects(hooks.prepareTunnelTls.promise({}), (error) => isPluginError(error, 'eager', 'prepareTunnelTls'));
  });

  it('a callback (tapAsync) tap that fails', async () => {
    const hooks = createEdgeHooks();
    const cause = new Error('callback failure');
    hooks.beforeRouteHostname.tapAsync('dns-plugin', (_route, callback) => callback(cause));
    await assert.rejects(hooks.beforeRouteHostname.promise({ hostname: 'a.example.test', tunnel: tunnel('a') }), (error) => isPluginError(error, 'dns-plugin', 'beforeRouteHostname', cause));
  });

  it('a thrown non-Error is still attributed', async () => {
    const hooks = createConnectorHooks();
    hooks.resolveEdges.tapPromise('stringly', async () => {
      throw 'plain string';
    });
    const credentials: TunnelCredentials = { tunnelId: 't', tunnelSecret: 's', zone: 'example.test', tls: { caPem: '' } };
    await assert.rejects(hooks.resolveEdges.promise({ credentials, overrides: [], configured: [] }), (error) => {
      isPluginError(error, 'stringly', 'resolveEdges');
      assert.ok((error as Error).message.includes('plain string'));
      return true;
    });
  });

  it('later taps do not run after a tap throws', async () => {
    const hooks = createEdgeHooks();
    let laterRan = false;
    hooks.afterListen.tap('thrower', () => {
      throw new Error('x');
    });
    hooks.afterListen.tap('later', () => {
      laterRan = true;
    });
    await assert.rejects(hooks.afterListen.promise({ tunnel: 'a:1', api: 'a:2' }), PluginError);
    assert.equal(laterRan, false);
  });

  it('a PluginError thrown by a tap is not wrapped twice', async () => {
    const hooks = createEdgeHooks();
    const inner = new PluginError('inner-plugin', 'hook resolveTunnel', new Error('x'));
    hooks.resolveTunnel.tapPromise('outer-plugin', async () => {
      throw inner;
    });
    await assert.rejects(hooks.resolveTunnel.promise('x'), (error) => error === inner);
  });

  const expectedErrors: Array<[name: string, make: () => Error]> = [
    ['RegistrationRefused', () => new RegistrationRefused('certificate is for another zone', false)],
    ['any error marked expected: true', () => Object.assign(new Error('route refused'), { expected: true, status: 400 })],
    // User mistakes already say what to fix; wrapping them would read as a bug in the plugin.
    ['ConfigError', () => new ConfigError('the tunnel token is not valid (not base64)', { keyPath: '--token', hint: 'copy the whole token' })],
    ['OriginCertError (a missing cert.pem)', () => new OriginCertError('/home/me/.burrow/cert.pem', 'origin certificate not found')],
    ['any BurrowError', () => new BurrowError('BURROW_ERR_LOGIN', 'login was refused. Fix: log in again', { hint: 'log in again' })],
  ];
  for (const [name, make] of expectedErrors) {
    it(`${name} passes through unwrapped (sync and promise taps)`, async () => {
      const syncError = make();
      const sync = createEdgeHooks();
      sync.beforeRegister.tap('zone-check', () => {
        throw syncError;
      });
      await assert.rejects(sync.beforeRegister.promise({} as never), (error) => error === syncError);

      const asyncError = make();
      const promised = createEdgeHooks();
      promised.beforeRegister.tapPromise('zone-check', async () => {
        throw asyncError;
      });
      await assert.rejects(promised.beforeRegister.promise({} as never), (error) => error === asyncError);
    });
  }

  it('a bad tunnel token in resolveCredentials reaches the user as the config error it is', async () => {
    const hooks = createConnectorHooks();
    hooks.resolveCredentials.tapPromise('origin-ca', async (query) => decodeTunnelToken(query.token!) as never);
    await assert.rejects(hooks.resolveCredentials.promise({ token: 'garbage!', configDir: '.' }), (error) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.doesNotMatch(error.message, /plugin "origin-ca" failed/);
      assert.match(error.message, /^--token: the tunnel token is not valid \(not base64\)\. Fix: /);
      return true;
    });
  });

  it('an error with expected: false is still wrapped', async () => {
    const hooks = createEdgeHooks();
    hooks.beforeRegister.tapPromise('checker', async () => {
      throw Object.assign(new Error('not on purpose'), { expected: false });
    });
    await assert.rejects(hooks.beforeRegister.promise({} as never), (error) => isPluginError(error, 'checker', 'beforeRegister'));
  });
});
