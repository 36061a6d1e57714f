// `node --import tsx bench/registry-redis.ts`: tunnel lookup latency on the Redis registry, uncached and cached.
// 10,000 tunnels and 20,000 routes (one exact, one wildcard each) in a throwaway redis-server, or in BENCH_REDIS_URL.
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../core/kernel/logger.ts';
import { RedisRegistry } from '../plugins/registry-redis/store.ts';
import { startRedis } from '../test/helpers/redis.ts';

const TUNNELS = Number(process.env.BENCH_TUNNELS ?? 10_000);
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 5_000);
const BATCH = 200;

const local = process.env.BENCH_REDIS_URL ? undefined : await startRedis();
const url = process.env.BENCH_REDIS_URL ?? local!.url;
const prefix = `bench${Date.now()}:`;
const open = () => RedisRegistry.open({ url, prefix, presenceTtlMs: 10_000, log: silentLogger });

const writer = await open();
const started = performance.now();
for (let from = 0; from < TUNNELS; from += BATCH) {
  await Promise.all(
    Array.from({ length: Math.min(BATCH, TUNNELS - from) }, async (_, k) => {
      const i = from + k;
      const { tunnel } = await writer.createTunnel({ name: `t${i}`, zone: 'bench.test' });
      await writer.routeHostname(`t${i}.bench.test`, tunnel.id);
      await writer.routeHostname(`*.w${i}.bench.test`, tunnel.id);
    }),
  );
}
const filledMs = performance.now() - started;

// Half exact routes, half hostnames only a wildcard matches (three HMGET candidates miss before it).
const hostnames = Array.from({ length: LOOKUPS }, (_, n) => {
  const i = Math.floor(Math.random() * TUNNELS);
  return n % 2 === 0 ? `t${i}.bench.test` : `app${n}.w${i}.bench.test`;
});

async function measure(registry: RedisRegistry): Promise<number[]> {
  const times: number[] = [];
  for (const hostname of hostnames) {
    const start = performance.now();
    const tunnel = await registry.tunnelForHostname(hostname);
    times.push(performance.now() - start);
    if (!tunnel) throw new Error(`no tunnel for ${hostname}`);
  }
  return times.sort((a, b) => a - b);
}

const reader = await open();
const uncached = await measure(reader);
const cached = await measure(reader);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
const µs = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

console.log(`registry-redis: ${TUNNELS} tunnels, ${TUNNELS * 2} routes written in ${(filledMs / 1000).toFixed(1)} s; ${LOOKUPS} sequential lookups (Node ${process.version})`);
console.log('| lookup | p50 | p99 |');
console.log('|---|---|---|');
console.log(`| uncached (Redis round trips) | ${µs(quantile(uncached, 0.5))} | ${µs(quantile(uncached, 0.99))} |`);
console.log(`| cached (memory) | ${µs(quantile(cached, 0.5))} | ${µs(quantile(cached, 0.99))} |`);

await Promise.all([writer.close(), reader.close()]);
await local?.close();
