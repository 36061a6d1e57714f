// `node --import tsx bench/dns.ts`: DNS queries per second an edge answers over UDP on loopback (routed A, NXDOMAIN
// and SRV discovery mixed), from one client keeping 64 queries in flight, for 5 s after a 1 s warm-up.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { splitHostPort } from '../core/transport/host.ts';
import { createTunnel, startEdge } from '../test/helpers/harness.ts';

const IN_FLIGHT = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

const edge = await startEdge({ pop: 'fra', listen: { dns: '127.0.0.1:0' }, dns: { discovery: 'edges.example.test', visitorAddresses: ['203.0.113.10', '2001:db8::10'] } });
await createTunnel(edge, 'app', ['app.example.test', '*.wild.example.test']);
const { host, port } = splitHostPort(edge.edge.addresses!.dns!);
const questions = [
  { type: 'A', name: 'app.example.test' },
  { type: 'AAAA', name: 'x.wild.example.test' },
  { type: 'A', name: 'nope.example.test' },
  { type: 'SRV', name: '_burrow._tcp.edges.example.test' },
] as const;
const queries = Array.from({ length: 65536 }, (_, id) => dnsPacket.encode({ type: 'query', id, questions: [questions[id % questions.length]!] }));

const socket = dgram.createSocket('udp4');
await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
let answered = 0;
let counting = false;
let next = 0;
const sendOne = () => socket.send(queries[next++ & 0xffff]!, port, host);
socket.on('message', () => {
  if (counting) answered++;
  sendOne();
});
// Lost datagrams are topped up so the window stays full.
const topUp = setInterval(() => {
  for (let i = 0; i < 8; i++) sendOne();
}, 50);
for (let i = 0; i < IN_FLIGHT; i++) sendOne();
await new Promise((resolve) => setTimeout(resolve, 1_000));
counting = true;
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000));
counting = false;
const elapsed = (performance.now() - started) / 1000;
clearInterval(topUp);
socket.close();
await edge.stop();

console.log(`DNS: queries answered over UDP on loopback, ${IN_FLIGHT} in flight, ${SECONDS} s (Node ${process.version})`);
console.log('| queries/s |');
console.log('|---|');
console.log(`| ${Math.round(answered / elapsed)} |`);
