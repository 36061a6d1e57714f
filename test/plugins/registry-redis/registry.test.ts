// registry-redis against a real redis-server: the registry contract registry-memory keeps, presence expiry, the cache and outages.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BurrowError, RouteConflictError, type PresenceRecord } from '../../../core/index.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { RedisRegistry } from '../../../plugins/registry-redis/store.ts';
import registryRedis from '../../../plugins/registry-redis/index.ts';
import { eventually } from '../../helpers/harness.ts';
import { startRedis, type TestRedis } from '../../helpers/redis.ts';

let redis: TestRedis;
const opened: RedisRegistry[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(opened.map((registry) => registry.close()));
  await redis.close();
});

/** A registry (a PoP) on its own prefix unless given one, so that tests share nothing by accident. */
async function open(prefix = `t${randomUUID().slice(0, 8)}:`, presenceTtlMs = 10_000): Promise<RedisRegistry> {
  const registry = await RedisRegistry.open({ url: redis.url, prefix, presenceTtlMs, log: silentLogger });
  opened.push(registry);
  return registry;
}

/** Pub/sub delivery to another PoP trails the write's reply by a moment; tests wait it out before looking. */
const heard = () => new Promise((resolve) => setTimeout(resolve, 100));

function presence(tunnelId: string, pop: string, connIndex = 0): PresenceRecord {
  return { connectionId: randomUUID(), tunnelId, connectorId: 'c1', connIndex, version: '0.1.0', pop, remoteAddress: '127.0.0.1:5000', connectedAt: new Date().toISOString() };
}

async function rejection(promise: Promise<unknown>): Promise<BurrowError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BurrowError, `expected a BurrowError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('registry-redis: tunnels', () => {
  it('creates tunnels and finds them by id and by name within a zone', async () => {
    const registry = await open();
    const { tunnel, secret } = await registry.createTunnel({ name: 'app', zone: 'example.test' });
    assert.match(tunnel.id, /^[0-9a-f-]{36}$/);
    assert.equal(Buffer.from(secret, 'base64').length, 32);
    const other = await registry.createTunnel({ name: 'app', zone: 'other.test' });
    assert.deepEqual(await registry.getTunnel(tunnel.id), tunnel);
    assert.deepEqual(await registry.getTunnel('app', ['example.test']), tunnel);
    assert.deepEqual(await registry.getTunnel('app', ['other.test']), other.tunnel);
    assert.equal(await registry.getTunnel(tunnel.id, ['other.test']), undefined);
    assert.equal(await registry.getTunnel('nope'), undefined);
    assert.deepEqual((await registry.listTunnels(['example.test'])).map((t) => t.id), [tunnel.id]);
    assert.deepEqual((await registry.listTunnels()).map((t) => t.id).sort(), [tunnel.id, other.tunnel.id].sort());
    assert.equal('secretHash' in tunnel, false);
  });

  it('refuses a second tunnel of the same name in a zone, even when two PoPs race for it', async () => {
    const fra = await open('race:');
    const iad = await open('race:');
    const results = await Promise.allSettled([fra.createTunnel({ name: 'dup', zone: 'example.test' }), iad.createTunnel({ name: 'dup', zone: 'example.test' })]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal(refused.reason.code, 'BURROW_ERR_TUNNEL_EXISTS');
    assert.match(refused.reason.message, /a tunnel named "dup" already exists in example\.test/);
  });

  it('verifies secrets against the stored hash', async () => {
    const registry = await open();
    const { tunnel, secret } = await registry.createTunnel({ name: 'app', zone: 'example.test' });
    assert.equal(await registry.verifySecret(tunnel.id, secret), true);
    assert.equal(await registry.verifySecret(tunnel.id, 'wrong'), false);
    assert.equal(await registry.verifySecret(randomUUID(), secret), false);
  });

  it('deleting a tunnel removes its routes and frees its name', async () => {
    const registry = await open();
    const { tunnel } = await registry.createTunnel({ name: 'gone', zone: 'example.test' });
    await registry.routeHostname('gone.example.test', tunnel.id);
    await registry.routeHostname('*.gone.example.test', tunnel.id);
    assert.equal((await registry.tunnelForHostname('gone.example.test'))?.id, tunnel.id);
    await registry.deleteTunnel(tunnel.id);
    assert.equal(await registry.getTunnel(tunnel.id), undefined);
    assert.equal(await registry.tunnelForHostname('gone.example.test'), undefined);
    assert.equal(await registry.tunnelForHostname('a.gone.example.test'), undefined);
    assert.deepEqual(await registry.listRoutes(), []);
    await registry.createTunnel({ name: 'gone', zone: 'example.test' });
  });
});

describe('registry-redis: routes', () => {
  it('resolves exact routes first, then the closest wildcard', async () => {
    const registry = await open();
    const a = (await registry.createTunnel({ name: 'a', zone: 'example.test' })).tunnel;
    const b = (await registry.createTunnel({ name: 'b', zone: 'example.test' })).tunnel;
    const c = (await registry.createTunnel({ name: 'c', zone: 'example.test' })).tunnel;
    await registry.routeHostname('*.example.test', a.id);
    await registry.routeHostname('*.b.example.test', b.id);
    await registry.routeHostname('x.b.example.test', c.id);
    const answers = Object.fromEntries(
      await Promise.all(['x.b.example.test', 'y.b.example.test', 'z.y.b.example.test', 'b.example.test', 'other.example.test', 'example.test', 'nope.test'].map(async (h) => [h, (await registry.tunnelForHostname(h))?.name])),
    );
    assert.deepEqual(answers, {
      'x.b.example.test': 'c',
      'y.b.example.test': 'b',
      'z.y.b.example.test': 'b',
      'b.example.test': 'a',
      'other.example.test': 'a',
      'example.test': undefined,
      'nope.test': undefined,
    });
  });

  it('refuses a hostname routed to another tunnel unless told to overwrite, and re-routing the same tunnel keeps the route', async () => {
    const registry = await open();
    const a = (await registry.createTunnel({ name: 'a', zone: 'example.test' })).tunnel;
    const b = (await registry.createTunnel({ name: 'b', zone: 'example.test' })).tunnel;
    const first = await registry.routeHostname('app.example.test', a.id);
    assert.deepEqual(await registry.routeHostname('app.example.test', a.id), first);
    const conflict = await rejection(registry.routeHostname('app.example.test', b.id));
    assert.ok(conflict instanceof RouteConflictError);
    assert.equal(conflict.code, 'BURROW_ERR_ROUTE_CONFLICT');
    assert.equal(conflict.tunnelId, a.id);
    const moved = await registry.routeHostname('app.example.test', b.id, { overwrite: true });
    assert.equal(moved.tunnelId, b.id);
    assert.equal((await registry.tunnelForHostname('app.example.test'))?.id, b.id);
    assert.deepEqual(await registry.listRoutes(a.id), []);
    assert.deepEqual((await registry.listRoutes(b.id)).map((r) => r.hostname), ['app.example.test']);
  });

  it('unroutes a hostname', async () => {
    const registry = await open();
    const a = (await registry.createTunnel({ name: 'a', zone: 'example.test' })).tunnel;
    await registry.routeHostname('one.example.test', a.id);
    await registry.routeHostname('two.example.test', a.id);
    assert.equal((await registry.tunnelForHostname('one.example.test'))?.id, a.id);
    await registry.unrouteHostname('one.example.test');
    await registry.unrouteHostname('never.example.test');
    assert.equal(await registry.tunnelForHostname('one.example.test'), undefined);
    assert.deepEqual((await registry.listRoutes()).map((r) => r.hostname), ['two.example.test']);
  });
});

describe('registry-redis: presence', () => {
  it('adds, lists and removes connections of every PoP', async () => {
    const fra = await open('presence:');
    const iad = await open('presence:');
    const tunnelId = randomUUID();
    const atFra = presence(tunnelId, 'fra');
    const atIad = presence(tunnelId, 'iad', 1);
    await fra.addPresence(atFra);
    await iad.addPresence(atIad);
    const sorted = (records: PresenceRecord[]) => records.map((r) => r.pop).sort();
    assert.deepEqual(sorted(await fra.listPresence(tunnelId)), ['fra', 'iad']);
    assert.deepEqual(await iad.listPresence(tunnelId).then((records) => records.find((r) => r.pop === 'fra')), atFra);
    await fra.removePresence(atFra);
    assert.deepEqual(sorted(await iad.listPresence(tunnelId)), ['iad']);
    assert.deepEqual(await iad.listPresence(randomUUID()), []);
  });

  it("keeps a live PoP's entries past the ttl, and drops a dead PoP's once it has not refreshed them for the ttl", async () => {
    const prefix = 'expiry:';
    const tunnelId = randomUUID();
    const live = await open(prefix, 600);
    await live.addPresence(presence(tunnelId, 'live'));
    // A PoP in its own process, killed without a chance to withdraw anything.
    const writer = fileURLToPath(new URL('./presence-writer.ts', import.meta.url));
    const dead = spawn(process.execPath, ['--import', 'tsx', writer, redis.url, prefix, '600', JSON.stringify(presence(tunnelId, 'dead'))], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(dead.stdout!, 'data');
    assert.deepEqual((await live.listPresence(tunnelId)).map((r) => r.pop).sort(), ['dead', 'live']);
    dead.kill('SIGKILL');
    await once(dead, 'exit');
    const killedAt = Date.now();
    await eventually(async () => (await live.listPresence(tunnelId)).every((r) => r.pop !== 'dead'), 3_000, "the dead PoP's entry to expire");
    assert.ok(Date.now() - killedAt <= 1_000, 'gone within the ttl (600 ms) plus polling');
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.deepEqual((await live.listPresence(tunnelId)).map((r) => r.pop), ['live']);
  });
});

describe('registry-redis: the cache', () => {
  it("answers lookups from memory and hears every PoP's route and tunnel changes at once", async () => {
    const fra = await open('cache:');
    const iad = await open('cache:');
    const a = (await fra.createTunnel({ name: 'a', zone: 'example.test' })).tunnel;
    const b = (await fra.createTunnel({ name: 'b', zone: 'example.test' })).tunnel;
    await fra.routeHostname('*.example.test', a.id);
    await heard();
    assert.equal((await iad.tunnelForHostname('x.example.test'))?.id, a.id);
    assert.equal(await iad.tunnelForHostname('x.other.test'), undefined);
    assert.equal(iad.cache.hostname('x.example.test')?.id, a.id);
    assert.equal(iad.cache.hostname('x.other.test'), null);

    const changed = (hostname: string) => eventually(() => iad.cache.hostname(hostname) === undefined, 1_000, `iad to drop ${hostname}`);
    await fra.routeHostname('x.example.test', b.id);
    await changed('x.example.test');
    assert.equal((await iad.tunnelForHostname('x.example.test'))?.id, b.id);
    await fra.routeHostname('*.other.test', b.id);
    await changed('x.other.test');
    assert.equal((await iad.tunnelForHostname('x.other.test'))?.id, b.id);
    await fra.deleteTunnel(b.id);
    await changed('x.example.test');
    assert.equal(iad.cache.tunnel(b.id), undefined);
    assert.equal((await iad.tunnelForHostname('x.example.test'))?.id, a.id);
  });

  it('drops the cache when its changes channel reconnects, since it may have missed changes meanwhile', async () => {
    const fra = await open('reconnect:');
    const iad = await open('reconnect:');
    const a = (await fra.createTunnel({ name: 'a', zone: 'example.test' })).tunnel;
    const b = (await fra.createTunnel({ name: 'b', zone: 'example.test' })).tunnel;
    await fra.routeHostname('app.example.test', a.id);
    assert.equal((await iad.tunnelForHostname('app.example.test'))?.id, a.id);
    const admin = new Redis(redis.url);
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      // Written while iad's subscriber is reconnecting: iad never hears of it.
      await fra.routeHostname('app.example.test', b.id, { overwrite: true });
    } finally {
      admin.disconnect();
    }
    await eventually(async () => (await iad.tunnelForHostname('app.example.test'))?.id === b.id, 3_000, 'iad to see the move');
  });
});

describe('registry-redis: Redis unreachable', () => {
  it('answers known hostnames from the cache, fails writes naming the registry, and works again once Redis is back', async () => {
    const registry = await open('outage:');
    const { tunnel, secret } = await registry.createTunnel({ name: 'app', zone: 'example.test' });
    await registry.routeHostname('app.example.test', tunnel.id);
    assert.equal((await registry.tunnelForHostname('app.example.test'))?.id, tunnel.id);
    await redis.stop();
    try {
      assert.equal((await registry.tunnelForHostname('app.example.test'))?.id, tunnel.id);
      assert.equal(await registry.verifySecret(tunnel.id, secret), true);
      const create = await rejection(registry.createTunnel({ name: 'new', zone: 'example.test' }));
      assert.equal(create.code, 'BURROW_ERR_REGISTRY');
      assert.match(create.message, new RegExp(`could not create the tunnel: the registry at redis://127\\.0\\.0\\.1:${redis.port}/0 cannot be reached`));
      assert.equal((await rejection(registry.routeHostname('b.example.test', tunnel.id))).code, 'BURROW_ERR_REGISTRY');
      assert.equal((await rejection(registry.deleteTunnel(tunnel.id))).code, 'BURROW_ERR_REGISTRY');
      assert.equal((await rejection(registry.tunnelForHostname('unknown.example.test'))).code, 'BURROW_ERR_REGISTRY');
    } finally {
      await redis.start();
    }
    await eventually(async () => registry.createTunnel({ name: 'new', zone: 'example.test' }).then(() => true, () => false), 5_000, 'writes to work again');
    assert.equal((await registry.tunnelForHostname('app.example.test'))?.id, tunnel.id);
  });

  it('puts its own connections back when Redis lost them (and its scripts)', async () => {
    const registry = await open('lost:', 600);
    const tunnelId = randomUUID();
    await registry.addPresence(presence(tunnelId, 'fra'));
    const admin = new Redis(redis.url);
    try {
      await admin.script('FLUSH');
      await admin.flushdb();
    } finally {
      admin.disconnect();
    }
    assert.deepEqual(await registry.listPresence(tunnelId), []);
    await eventually(async () => (await registry.listPresence(tunnelId)).length === 1, 2_000, 'the refresh to write it again');
  });

  it('stops the edge at startup when Redis cannot be reached, naming the address', async () => {
    await assert.rejects(RedisRegistry.open({ url: 'redis://127.0.0.1:1/0', prefix: 'x:', presenceTtlMs: 10_000, log: silentLogger }), (error: BurrowError) => {
      assert.equal(error.code, 'BURROW_ERR_REGISTRY');
      assert.match(error.message, /the registry at redis:\/\/127\.0\.0\.1:1\/0 cannot be reached/);
      return true;
    });
  });
});

describe('registry-redis: options', () => {
  it('checks its options with key paths', () => {
    const schema = registryRedis.options!;
    const parsed = schema.parse({}) as { prefix: string; presenceTtl: number };
    assert.deepEqual(parsed, { prefix: 'burrow:', presenceTtl: 10_000 });
    const bad = schema.safeParse({ url: 'http://x', presenceTtl: '100ms', extra: 1 });
    assert.equal(bad.success, false);
    const paths = bad.error!.issues.map((issue) => issue.path.join('.') || issue.code).sort();
    assert.deepEqual(paths, ['presenceTtl', 'unrecognized_keys', 'url']);
  });
});
