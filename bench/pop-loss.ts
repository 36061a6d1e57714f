// `node --import tsx bench/pop-loss.ts`: time from a PoP's death (kill -9 of its process) to the first successful
// request for a tunnel whose only connection was there, landing at the other PoP. Two PoPs on one Redis; the
// connector (1 connection, its default backoff) lists both PoPs; 5 trials.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { configSchema } from '../config/schema.ts';
import { Connector } from '../core/connector/connector.ts';
import { EdgeClient } from '../core/edge-client.ts';
import { silentLogger } from '../core/kernel/logger.ts';
import { initNetworkCa } from '../plugins/network/ca-command.ts';
import { spawnEdge } from '../test/helpers/cli.ts';
import { ADMIN_TOKEN, createTunnel, removeDir, startOrigin, tempDir, type TestEdge } from '../test/helpers/harness.ts';
import { startRedis } from '../test/helpers/redis.ts';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const HOST = 'app.example.test';

const redis = await startRedis();
const root = await tempDir('burrow-bench-pop-loss-');
const caDir = path.join(root, 'ca');
await initNetworkCa(caDir);
const spawnPop = (pop: string) =>
  spawnEdge(
    root,
    {
      pop,
      dataDir: path.join(root, pop),
      zones: ['example.test'],
      listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0', peer: '127.0.0.1:0' },
      network: { registry: redis.url, ca: caDir, probeInterval: '500ms' },
    },
    ADMIN_TOKEN,
    `${pop}.json`,
  );

function get(address: string): Promise<number> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const req = http.get({ host: address.slice(0, i), port: Number(address.slice(i + 1)), path: '/', headers: { host: HOST }, timeout: 2_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

const origin = await startOrigin((_req, res) => res.end('ok'));
const fra = await spawnPop('fra');
const asEdge = { api: `http://${fra.addresses.api}`, admin: new EdgeClient(`http://${fra.addresses.api}`, ADMIN_TOKEN) } as TestEdge;
const { apiToken: _token, ...credentials } = await createTunnel(asEdge, 'app', [HOST]);
const times: number[] = [];
let lhr: { child: ChildProcess; addresses: Record<string, string> } | undefined;
try {
  for (let trial = 0; trial < TRIALS; trial++) {
    lhr = await spawnPop('lhr');
    const connector = new Connector({
      config: configSchema.parse({ 'ha-connections': 1, ingress: [{ service: origin.url }] }),
      credentials: { ...credentials, edge: undefined },
      edges: [lhr.addresses.tunnel!, fra.addresses.tunnel!],
      log: silentLogger,
    });
    await connector.start();
    // fra reaches the tunnel through lhr.
    for (let ok = 0; ok < 3; ) ok = (await get(fra.addresses.http!)) === 200 ? ok + 1 : 0;
    const started = performance.now();
    const exited = once(lhr.child, 'exit');
    lhr.child.kill('SIGKILL');
    while ((await get(fra.addresses.http!)) !== 200) await new Promise((resolve) => setTimeout(resolve, 10));
    times.push(performance.now() - started);
    await exited;
    await connector.stop(0);
  }
} finally {
  if (lhr && lhr.child.exitCode === null && lhr.child.signalCode === null) lhr.child.kill('SIGKILL');
  fra.child.kill('SIGKILL');
  await origin.close();
  await redis.close();
  await removeDir(root);
}
times.sort((a, b) => a - b);
console.log(`PoP loss: kill -9 of the PoP holding the only connection to the first success at the other PoP, ${TRIALS} trials (Node ${process.version})`);
console.log('| p50 | max |');
console.log('|---|---|');
console.log(`| ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms | ${times.at(-1)!.toFixed(0)} ms |`);
