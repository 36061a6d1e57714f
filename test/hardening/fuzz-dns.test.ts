// Fuzzing the edge's DNS server: any datagram is dropped or answered with a well-formed response (dns-packet can
// decode it) with the right id and a sensible rcode, never a throw; UDP answers fit the client's size; and
// TCP clients sending arbitrary length-prefixed bytes in arbitrary chunks get framed answers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import dnsPacket, { type Packet } from 'dns-packet';
import { DnsAuthority, type DnsPop, type DnsSource } from '../../plugins/dns/authority.ts';
import { DnsServer } from '../../plugins/dns/server.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { RUNS, describeError, failOnUnhandledRejection } from './fuzz-support.ts';

failOnUnhandledRejection();

const TCP_RUNS = 300;
const ZONE = 'example.test';
const DISCOVERY = 'edges.example.test';

const pops: DnsPop[] = [
  // Enough visitor addresses that an A answer does not fit a classic 512-byte UDP message.
  { name: 'fra', region: 'eu', tunnel: '198.51.100.1:7844', visitors: Array.from({ length: 40 }, (_, i) => `203.0.113.${i + 1}`), dns: '127.0.0.1' },
  { name: 'lhr', region: 'eu', tunnel: '[2001:db8::1]:7844', visitors: ['2001:db8::10', '2001:db8::11'] },
  { name: 'iad', tunnel: 'not-an-address:7844', visitors: [] },
];
const source: DnsSource = {
  zones: () => [ZONE, DISCOVERY, 'other.test'],
  discovery: DISCOVERY,
  ttl: 30,
  async isRouted(hostname) {
    if (hostname.startsWith('boom.')) throw new Error('registry down');
    return hostname === `app.${ZONE}` || hostname === ZONE || hostname.endsWith(`.wild.${ZONE}`);
  },
  pops: async () => pops,
};
const server = new DnsServer({ authority: new DnsAuthority(source), log: silentLogger, onQuery: () => undefined });

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

const names = fc.oneof(
  fc.constantFrom(
    ZONE,
    `app.${ZONE}`,
    `APP.Example.TEST`,
    `a.b.wild.${ZONE}`,
    `nope.${ZONE}`,
    `boom.${ZONE}`,
    `ns-fra.${ZONE}`,
    `_burrow._tcp.${DISCOVERY}`,
    `_burrow._tcp.eu.${DISCOVERY}`,
    `_tcp.${DISCOVERY}`,
    `fra.${DISCOVERY}`,
    `iad.${DISCOVERY}`,
    DISCOVERY,
    'www.example.com',
    '.',
    '',
    'a\\.b.example.test',
    `${'a'.repeat(63)}.${ZONE}`,
    `${'a.'.repeat(120)}${ZONE}`,
  ),
  fc.domain().map((domain) => `${domain}.${ZONE}`),
  fc.domain(),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
);
const types = fc.constantFrom('A', 'AAAA', 'NS', 'SOA', 'SRV', 'MX', 'TXT', 'CNAME', 'PTR', 'ANY', 'AXFR', 'IXFR', 'CAA', 'OPT', 'DS');
const classes = fc.constantFrom('IN', 'IN', 'IN', 'CH', 'HS', 'ANY');
const opt = fc.record({ udpPayloadSize: fc.integer({ min: 0, max: 65535 }), ednsVersion: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 0xffff }) });

/** Well-formed queries as resolvers send them: one question (sometimes several), EDNS0 or not, any opcode. */
const query = fc
  .record({
    id: fc.integer({ min: 0, max: 0xffff }),
    opcode: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 15 }) }),
    rd: fc.boolean(),
    questions: fc.oneof({ weight: 6, arbitrary: fc.array(fc.record({ name: names, type: types, class: classes }), { minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.array(fc.record({ name: names, type: types, class: classes }), { maxLength: 3 }) }),
    opts: fc.oneof({ weight: 3, arbitrary: fc.constant([] as Array<{ udpPayloadSize: number; ednsVersion: number; flags: number }>) }, { weight: 2, arbitrary: fc.array(opt, { minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.array(opt, { minLength: 2, maxLength: 2 }) }),
  })
  .map(({ id, opcode, rd, questions, opts }) => {
    const packet = {
      id,
      type: 'query',
      flags: (opcode << 11) | (rd ? dnsPacket.RECURSION_DESIRED : 0),
      questions,
      additionals: opts.map((o) => ({ name: '.', type: 'OPT', udpPayloadSize: o.udpPayloadSize, ednsVersion: o.ednsVersion, flags: o.flags, options: [] })),
    } as unknown as Packet;
    try {
      return dnsPacket.encode(packet);
    } catch {
      // A name dns-packet will not write (a label over 63 bytes): the bare header and whatever follows.
      return Buffer.from(dnsPacket.encode({ id, type: 'query', flags: packet.flags, questions: [] }));
    }
  });

/** Bytes changed in place, cut short, or extended; header counts rewritten. */
const mutatedQuery = fc
  .tuple(
    query,
    fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 16 }) }),
        fc.record({ kind: fc.constant('count' as const), which: fc.integer({ min: 0, max: 3 }), value: fc.integer({ min: 0, max: 0xffff }) }),
        // A compression pointer somewhere, possibly at itself or forward.
        fc.record({ kind: fc.constant('pointer' as const), at: fc.nat(), to: fc.integer({ min: 0, max: 0x3fff }) }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([bytes, edits]) => {
    let out = Buffer.from(bytes);
    for (const edit of edits) {
      if (edit.kind === 'set' && out.length > 0) out[edit.at % out.length] = edit.byte;
      else if (edit.kind === 'cut') out = out.subarray(0, edit.at % (out.length + 1));
      else if (edit.kind === 'append') out = Buffer.concat([out, edit.bytes]);
      else if (edit.kind === 'count' && out.length >= 12) out.writeUInt16BE(edit.value, 4 + 2 * edit.which);
      else if (edit.kind === 'pointer' && out.length >= 14) out.writeUInt16BE(0xc000 | edit.to, 12 + (edit.at % (out.length - 13)));
    }
    return out;
  });

const datagram = fc.oneof(
  { weight: 3, arbitrary: query },
  { weight: 4, arbitrary: mutatedQuery },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  // A readable header (a query, opcode 0) followed by garbage.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0x7fff }), fc.uint8Array({ maxLength: 64 })).map(([id, flags, rest]) => Buffer.concat([Buffer.from([id >> 8, id & 0xff, (flags >> 8) & 0x7f, flags & 0xff]), Buffer.from(rest)])) },
);

function decodeOrUndefined(bytes: Buffer): Packet | undefined {
  try {
    return dnsPacket.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The name at `offset` as uncompressed wire bytes (lengths, labels, the final 0), following pointers. */
function wireName(bytes: Buffer, offset: number): Buffer | undefined {
  const out: number[] = [];
  for (let jumps = 0; jumps < 128; ) {
    const length = bytes[offset];
    if (length === undefined) return undefined;
    if ((length & 0xc0) === 0xc0) {
      if (offset + 1 >= bytes.length) return undefined;
      offset = bytes.readUInt16BE(offset) & 0x3fff;
      jumps++;
      continue;
    }
    if (length > 63 || offset + length >= bytes.length) return undefined;
    out.push(...bytes.subarray(offset, offset + 1 + length));
    if (length === 0) return Buffer.from(out);
    offset += length + 1;
  }
  return undefined;
}

/** Labels of letters, digits and printable punctuation other than the dot: what dns-packet writes back unchanged. */
function plainName(wire: Buffer | undefined): boolean {
  if (!wire) return false;
  for (let i = 0; wire[i] !== 0; i += wire[i]! + 1) {
    for (const byte of wire.subarray(i + 1, i + 1 + wire[i]!)) if (byte <= 0x20 || byte >= 0x7f || byte === 0x2e) return false;
  }
  return true;
}

/** The answer to `message`: undefined exactly when it is dropped, else a response that decodes, as the server should give. */
async function checkAnswer(message: Buffer, transport: 'udp' | 'tcp'): Promise<void> {
  let reply: Buffer | undefined;
  try {
    reply = await server.answer(message, transport);
  } catch (error) {
    assert.fail(`answer threw ${describeError(error)} for ${message.toString('hex')}`);
  }
  if (message.length < 12 || (message.readUInt16BE(2) & 0x8000) !== 0) {
    assert.equal(reply, undefined, 'too short for a header, or itself a response: dropped');
    return;
  }
  assert.ok(reply, `no answer to ${message.toString('hex')}`);
  let response: Packet & { rcode?: string; opcode?: string };
  try {
    response = dnsPacket.decode(reply);
  } catch (error) {
    assert.fail(`the answer does not decode (${describeError(error)}): ${reply.toString('hex')} for ${message.toString('hex')}`);
  }
  assert.equal(response.type, 'response');
  assert.equal(response.id, message.readUInt16BE(0), 'the id is echoed');
  const opcode = (message.readUInt16BE(2) >> 11) & 0xf;
  assert.equal((reply.readUInt16BE(2) >> 11) & 0xf, opcode, 'the opcode is echoed');
  assert.ok(RCODES.includes(response.rcode!), `rcode ${response.rcode}`);
  // A question in the answer is the one asked, byte for byte (dns-packet writes names uncompressed).
  if ((response.questions ?? []).length > 0) {
    assert.equal(response.questions!.length, 1);
    assert.deepEqual(wireName(reply, 12), wireName(message, 12), 'the question is echoed byte for byte');
  }

  const asked = decodeOrUndefined(message);
  const opts = (asked?.additionals ?? []).filter((record) => record.type === 'OPT') as Array<{ udpPayloadSize?: number; ednsVersion?: number }>;
  const single = (asked?.questions ?? []).length === 1;
  if (asked === undefined) assert.equal(response.rcode, 'FORMERR', 'garbage after a readable header is FORMERR');
  else if (opcode !== 0) assert.equal(response.rcode, 'NOTIMP');
  else if (!single || opts.length > 1 || !plainName(wireName(message, 12))) assert.equal(response.rcode, 'FORMERR');
  else {
    const question = asked.questions![0]!;
    const opt = opts[0];
    if (opt && (opt.ednsVersion ?? 0) > 0) {
      const edns = (response.additionals ?? []).find((record) => record.type === 'OPT') as { extendedRcode?: number } | undefined;
      assert.ok(edns?.extendedRcode === 1 || response.rcode === 'FORMERR', 'BADVERS for an EDNS version above 0');
    } else if (response.rcode === 'NOERROR' || response.rcode === 'NXDOMAIN') {
      assert.ok((response.flags! & dnsPacket.AUTHORITATIVE_ANSWER) !== 0, 'authoritative inside the zones');
      assert.equal(response.questions?.length, 1);
      for (const record of response.answers ?? []) assert.equal(record.name.toLowerCase(), question.name.replace(/\.$/, '').toLowerCase());
    }
    if (transport === 'udp') {
      const limit = opt ? Math.max(512, Math.min(opt.udpPayloadSize ?? 512, 1232)) : 512;
      assert.ok(reply.length <= limit, `a ${reply.length}-byte UDP answer over the ${limit}-byte limit`);
    }
  }
}

describe('dns: answering datagrams', () => {
  it('any datagram is dropped or answered with a response that decodes, with a sensible rcode (UDP)', async () => {
    await fc.assert(fc.asyncProperty(datagram, (message) => checkAnswer(message, 'udp')), { numRuns: RUNS });
  });

  it('the same over TCP, where answers are not truncated', async () => {
    await fc.assert(fc.asyncProperty(datagram, (message) => checkAnswer(message, 'tcp')), { numRuns: RUNS });
  });

  it('an answer too large for UDP is truncated with TC set, and complete over TCP', async () => {
    const message = dnsPacket.encode({ id: 7, type: 'query', questions: [{ name: ZONE, type: 'A', class: 'IN' }] });
    const udp = dnsPacket.decode((await server.answer(message, 'udp'))!);
    assert.ok((udp.flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0);
    const tcp = dnsPacket.decode((await server.answer(message, 'tcp'))!);
    assert.equal((tcp.flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0, false);
    assert.equal(tcp.answers?.length, 40);
  });

  // Counterexamples kept as they were found, one per shape.
  const regressions: Array<[hex: string, why: string]> = [
    ['', 'empty'],
    ['0001', 'two bytes'],
    ['000100000001000000000000', 'a header that promises a question and ends'],
    ['00010000000100000000000003617070c00c00010001', 'a name that points at itself'],
    ['00010000000100000000000003617070c01400010001', 'a name that points forward'],
    ['0001000000010000000000003f61', 'a label longer than what follows'],
    ['00010000ffff00000000000000000100010000010001', 'more questions promised than sent'],
    ['000101000001000000000000000001000100', 'a truncated class'],
    ['0001000000010000000000010000010001000029ffff000000000000', 'an OPT record cut short'],
    // dns-packet reads labels as UTF-8: these came back with U+FFFD (three bytes) for each odd byte, the first as a
    // 65-byte label that made the whole answer unreadable, the second as another name than the one asked.
    [`0000000000010000000000003fc000${'61'.repeat(61)}076578616d706c6504746573740000010001`, 'a 63-byte label with bytes that are not UTF-8'],
    [`000000000001000000000000${'0161'.repeat(60)}0180${'0161'.repeat(20)}076578616d706c6504746573740000010001`, 'a label of one byte 0x80'],
    ['00000000000100000000000003612e62076578616d706c6504746573740000010001', 'a label holding a dot, answered as two labels'],
    ['0000000000010000000000000361200a076578616d706c6504746573740000010001', 'a label with a space and a newline'],
    ['0000080000010000000000000180076578616d706c6504746573740000010001', 'an odd label under an opcode that is not implemented'],
  ];
  for (const [hex, why] of regressions) {
    it(`answers or drops ${hex || '(nothing)'} (${why})`, () => checkAnswer(Buffer.from(hex, 'hex'), 'udp'));
  }
});

describe('dns: TCP framing', () => {
  let tcp: net.Server;
  let port: number;
  before(async () => {
    tcp = server.tcp;
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    port = (tcp.address() as net.AddressInfo).port;
  });
  after(async () => {
    server.close();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  });

  /** Sends `bytes` in the given pieces, half-closes, and collects what comes back until the server closes or goes quiet. */
  function exchange(pieces: readonly Buffer[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const received: Buffer[] = [];
      socket.on('data', (chunk) => received.push(chunk));
      socket.on('error', reject);
      socket.on('end', () => {
        socket.destroy();
        resolve(Buffer.concat(received));
      });
      socket.on('connect', async () => {
        for (const piece of pieces) {
          socket.write(piece);
          await new Promise((next) => setImmediate(next));
        }
        socket.end();
      });
    });
  }

  it('length-prefixed messages cut anywhere get one framed answer each, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(datagram, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), async (messages, cuts) => {
        const framed = Buffer.concat(messages.map((message) => Buffer.concat([Buffer.from([message.length >> 8, message.length & 0xff]), message])));
        const points = [...new Set(cuts.map((cut) => cut % (framed.length + 1)))].sort((a, b) => a - b);
        const pieces = [...points, framed.length].map((point, i, all) => framed.subarray(i === 0 ? 0 : all[i - 1]!, point));
        const replies = await exchange(pieces);
        const expected = messages.filter((message) => message.length >= 12 && (message.readUInt16BE(2) & 0x8000) === 0);
        let offset = 0;
        for (const message of expected) {
          assert.ok(offset + 2 <= replies.length, 'an answer for every query');
          const length = replies.readUInt16BE(offset);
          const reply = dnsPacket.decode(replies.subarray(offset + 2, offset + 2 + length));
          assert.equal(reply.id, message.readUInt16BE(0), 'answers in order');
          offset += 2 + length;
        }
        assert.equal(offset, replies.length, 'nothing but the answers');
      }),
      { numRuns: TCP_RUNS },
    );
  });

  it('regression: a client that half-closes after its query still gets the answer, however long the lookup takes', async () => {
    const slow = new DnsServer({ authority: new DnsAuthority({ ...source, pops: () => new Promise((resolve) => setTimeout(() => resolve(pops), 30)) }), log: silentLogger });
    await new Promise<void>((resolve) => slow.tcp.listen(0, '127.0.0.1', resolve));
    try {
      const message = dnsPacket.encode({ id: 41, type: 'query', questions: [{ name: `app.${ZONE}`, type: 'A', class: 'IN' }] });
      const replies = await new Promise<Buffer>((resolve, reject) => {
        const socket = net.connect((slow.tcp.address() as net.AddressInfo).port, '127.0.0.1');
        const received: Buffer[] = [];
        socket.on('data', (chunk) => received.push(chunk));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(received)));
        socket.on('connect', () => socket.end(Buffer.concat([Buffer.from([0, message.length]), message])));
      });
      assert.ok(replies.length > 2, 'an answer before the connection ended');
      assert.equal(dnsPacket.decode(replies.subarray(2, 2 + replies.readUInt16BE(0))).id, 41);
    } finally {
      slow.close();
      await new Promise<void>((resolve) => slow.tcp.close(() => resolve()));
    }
  });

  it('a connection that sends a partial frame and hangs up, or garbage lengths, does not disturb the next', async () => {
    await exchange([Buffer.from([0xff, 0xff, 1, 2, 3])]);
    await exchange([Buffer.from([0x00])]);
    const message = dnsPacket.encode({ id: 99, type: 'query', questions: [{ name: `app.${ZONE}`, type: 'A', class: 'IN' }] });
    const replies = await exchange([Buffer.concat([Buffer.from([0, message.length]), message])]);
    assert.equal(dnsPacket.decode(replies.subarray(2)).id, 99);
  });
});
