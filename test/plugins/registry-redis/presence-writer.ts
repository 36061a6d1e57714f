// A PoP process that records one connection in the Redis registry and then hangs until killed: a PoP that dies.
import 'reflect-metadata';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { RedisRegistry } from '../../../plugins/registry-redis/store.ts';

const [url, prefix, ttl, record] = process.argv.slice(2) as [string, string, string, string];
const registry = await RedisRegistry.open({ url, prefix, presenceTtlMs: Number(ttl), log: silentLogger });
await registry.addPresence(JSON.parse(record));
process.stdout.write('recorded\n');
setInterval(() => {}, 60_000);
