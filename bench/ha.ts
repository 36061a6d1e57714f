// `node --import tsx bench/ha.ts`: how fast a connector replaces a lost tunnel connection (its socket destroyed under
// it), p50/p90/max over 20 cuts, on one edge and one connector with 4 connections on loopback.
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { configSchema } from '../config/schema.ts';
import { Connector } from '../core/connector/connector.ts';
import { silentLogger } from '../core/kernel/logger.ts';
import { createTunnel, startEdge, startOrigin } from '../test/helpers/harness.ts';

const CUTS = Number(process.env.BENCH_CUTS ?? 20);

const origin = await startOrigin((_req, res) => res.end('ok'));
const edge = await startEdge();
const credentials = await createTunnel(edge, 'ha', ['app.example.test']);
// The connector's own defaults (reconnect backoff from 1 s, with jitter), as `burrow tunnel run` has them.
const connector = new Connector({ config: configSchema.parse({ 'ha-connections': 4, ingress: [{ service: origin.url }] }), credentials, log: silentLogger });
await connector.start();
const usable = () => edge.edge.connections.forTunnel(credentials.tunnelId).filter((c) => c.usable);
const until = async (check: () => boolean) => {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 2))) if (check()) return;
  throw new Error('timed out waiting for the connections');
};

function rawSocket(session: object): Duplex {
  const key = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === 'socket')!;
  return (session as Record<symbol, Duplex>)[key];
}

await until(() => usable().length === 4);
const times: number[] = [];
for (let i = 0; i < CUTS; i++) {
  const [victim] = usable();
  const started = performance.now();
  rawSocket(victim!.session).destroy();
  await until(() => usable().length === 4 && !usable().includes(victim!));
  times.push(performance.now() - started);
  await new Promise((r) => setTimeout(r, 100));
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
console.log(`HA: a lost tunnel connection replaced and registered again, ${CUTS} cuts (Node ${process.version})`);
console.log('| p50 | p90 | max |');
console.log('|---|---|---|');
console.log(`| ${at(0.5).toFixed(0)} ms | ${at(0.9).toFixed(0)} ms | ${times.at(-1)!.toFixed(0)} ms |`);
await connector.stop(0);
await edge.stop();
await origin.close();
