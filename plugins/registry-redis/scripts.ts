// The registry's atomic writes as Lua scripts: create-if-name-free, route-unless-conflict, and presence with expiry.
import type { ChainableCommander, Redis } from 'ioredis';

/*
 * Scripts that derive a key from a record they read (the old tunnel's `routes:<id>` set) build it from the prefix in
 * ARGV, which ties the registry to one Redis server rather than a Cluster: acceptable for a registry this small.
 * Presence expiry uses the Redis clock (TIME), so PoPs whose clocks disagree still agree on what has expired.
 */
const scripts = {
  // KEYS: names:<zone>, tunnel:<id>, tunnels, zones. ARGV: name, id, zone, then the tunnel hash's field/value pairs.
  burrowCreateTunnel: {
    numberOfKeys: 4,
    lua: `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[3])
return 1`,
  },
  // KEYS: tunnel:<id>, tunnels, names:<zone>, routes, routes:<id>. ARGV: id, name ('' when unknown), channel, change.
  burrowDeleteTunnel: {
    numberOfKeys: 5,
    lua: `
if ARGV[2] ~= '' and redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[3], ARGV[2]) end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
local hostnames = redis.call('SMEMBERS', KEYS[5])
for _, hostname in ipairs(hostnames) do redis.call('HDEL', KEYS[4], hostname) end
redis.call('DEL', KEYS[5])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return #hostnames`,
  },
  // KEYS: routes, routes:<tunnel id>. ARGV: hostname, tunnel id, route JSON, overwrite ('1'), prefix, channel, change.
  // Answers {'same', route JSON}, {'conflict', tunnel id} or {'routed', route JSON}.
  burrowRouteHostname: {
    numberOfKeys: 2,
    lua: `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  local old = cjson.decode(existing)
  if old.tunnelId == ARGV[2] then return {'same', existing} end
  if ARGV[4] ~= '1' then return {'conflict', old.tunnelId} end
  redis.call('SREM', ARGV[5] .. 'routes:' .. old.tunnelId, ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {'routed', ARGV[3]}`,
  },
  // KEYS: routes. ARGV: hostname, prefix, channel, change.
  burrowUnrouteHostname: {
    numberOfKeys: 1,
    lua: `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', ARGV[2] .. 'routes:' .. cjson.decode(existing).tunnelId, ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`,
  },
  // KEYS: presence:<tunnel id>, presence:<tunnel id>:records. ARGV: connection id, presence JSON, ttl ms.
  // The keys themselves expire too, so a tunnel whose every PoP died leaves nothing behind.
  burrowAddPresence: {
    numberOfKeys: 2,
    lua: `
local time = redis.call('TIME')
local now = time[1] * 1000 + math.floor(time[2] / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return 1`,
  },
  // KEYS: presence:<tunnel id>, presence:<tunnel id>:records. Drops expired entries, answers the live records' JSON.
  burrowListPresence: {
    numberOfKeys: 2,
    lua: `
local time = redis.call('TIME')
local now = time[1] * 1000 + math.floor(time[2] / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(expired))
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
if #live == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(live))`,
  },
} as const;

export type ScriptName = keyof typeof scripts;

/** Registers the scripts on a client; ioredis then runs them by SHA and reloads them after a Redis restart. */
export function defineScripts(client: Redis): void {
  for (const [name, definition] of Object.entries(scripts)) client.defineCommand(name, definition);
}

type RunScript = (...keysAndArgs: Array<string | number>) => Promise<unknown>;

/** A defined script as a function, on a client or queued on a pipeline (ioredis adds them untyped). */
export function script(target: Redis | ChainableCommander, name: ScriptName): RunScript {
  const run = (target as unknown as Record<ScriptName, RunScript>)[name];
  return run.bind(target);
}
