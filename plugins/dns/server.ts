// The DNS wire: queries over UDP and TCP (RFC 1035, RFC 7766), EDNS0 (RFC 6891), truncation with TCP fallback.
// Every packet is parsed defensively: garbage is dropped or answered FORMERR, never allowed to throw past here.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import type { Logger } from 'burrow';
import type { DnsAuthority, Resolution } from './authority.ts';

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Extended rcode BADVERS (16): the upper 8 bits (1) go in the OPT record, the lower 4 (0) in the header. */
const BADVERS_UPPER = 1;
/** Without EDNS0 a UDP answer is at most 512 bytes; with it, the client's size, capped at what survives fragmentation. */
const CLASSIC_UDP_SIZE = 512;
const EDNS_UDP_SIZE = 1232;
/** TCP: at most this many connections, each closed after this long idle, with this many queries in flight. */
const MAX_TCP_CONNECTIONS = 512;
const TCP_IDLE_MS = 10_000;
const TCP_MAX_PENDING = 16;

export interface DnsServerOptions {
  readonly authority: DnsAuthority;
  readonly log: Logger;
  /** Called once per query answered, for metrics. */
  readonly onQuery?: (rcode: string, transport: 'udp' | 'tcp') => void;
}

export class DnsServer {
  readonly tcp: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly options: DnsServerOptions) {
    this.tcp = net.createServer({ pauseOnConnect: false, allowHalfOpen: true }, (socket) => this.serveTcp(socket));
    this.tcp.maxConnections = MAX_TCP_CONNECTIONS;
  }

  /** A UDP socket answering queries; bind it (api.listen) where DNS is served. */
  udp(family: 'udp4' | 'udp6'): dgram.Socket {
    const socket = dgram.createSocket({ type: family, reuseAddr: false });
    socket.on('message', (message, remote) => {
      void this.answer(message, 'udp').then(
        (reply) => {
          if (reply) socket.send(reply, remote.port, remote.address, () => undefined);
        },
        (error) => this.options.log.warn({ err: (error as Error).message }, 'DNS query failed'),
      );
    });
    socket.on('error', (error) => this.options.log.warn({ err: error.message }, 'DNS UDP socket error'));
    return socket;
  }

  /** Ends every TCP connection (the listeners themselves are closed by the edge). */
  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * The answer to one DNS message, or undefined to drop it (too short to carry an id, or itself a response).
   * Never throws on what the packet holds.
   */
  async answer(message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    if (message.length < 12) return undefined;
    const flags = message.readUInt16BE(2);
    if (flags & 0x8000) return undefined; // a response: answering it could start a loop between two servers
    const id = message.readUInt16BE(0);
    const opcode = (flags >> 11) & 0xf;
    const recursionDesired = (flags & dnsPacket.RECURSION_DESIRED) !== 0;
    const bare = (rcode: number, questions: Packet['questions'] = []) => this.encode({ id, type: 'response', flags: opcodeFlags(opcode, recursionDesired) | rcode, questions }, transport, 'FORMERR');

    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return bare(RCODE.FORMERR);
    }
    const questions = query.questions ?? [];
    const echoable = questions.length === 1 && plainQuestionName(message);
    if (opcode !== 0) return bare(RCODE.NOTIMP, echoable ? questions : []);
    const opts = (query.additionals ?? []).filter((record) => record.type === 'OPT');
    if (!echoable || opts.length > 1) return bare(RCODE.FORMERR);
    const question = questions[0]!;
    const opt = opts[0] as (Answer & { udpPayloadSize?: number; ednsVersion?: number }) | undefined;
    const limit = transport === 'tcp' ? 65_535 : opt ? Math.max(CLASSIC_UDP_SIZE, Math.min(opt.udpPayloadSize ?? CLASSIC_UDP_SIZE, EDNS_UDP_SIZE)) : CLASSIC_UDP_SIZE;
    const ednsOut = opt ? [{ name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] } as unknown as Answer] : [];
    const base = { id, type: 'response' as const, questions: [question] };

    if (opt && (opt.ednsVersion ?? 0) > 0) {
      const badvers = { name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: BADVERS_UPPER, ednsVersion: 0, flags: 0, options: [] } as unknown as Answer;
      return this.encode({ ...base, flags: opcodeFlags(0, recursionDesired), additionals: [badvers] }, transport, 'BADVERS');
    }
    if (question.class !== undefined && question.class !== 'IN' && question.class !== 'ANY') {
      return this.encode({ ...base, flags: opcodeFlags(0, recursionDesired) | RCODE.REFUSED, additionals: ednsOut }, transport, 'REFUSED');
    }
    if (question.type === 'AXFR' || question.type === 'IXFR') {
      return this.encode({ ...base, flags: opcodeFlags(0, recursionDesired) | RCODE.REFUSED, additionals: ednsOut }, transport, 'REFUSED');
    }

    let resolution: Resolution;
    try {
      resolution = await this.options.authority.resolve(question);
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message, name: question.name }, 'DNS lookup failed; answering SERVFAIL');
      return this.encode({ ...base, flags: opcodeFlags(0, recursionDesired) | RCODE.SERVFAIL, additionals: ednsOut }, transport, 'SERVFAIL');
    }
    const headerFlags = opcodeFlags(0, recursionDesired) | (resolution.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | RCODE[resolution.rcode];
    const full = this.encode(
      { ...base, flags: headerFlags, answers: resolution.answers, authorities: resolution.authorities, additionals: [...resolution.additionals, ...ednsOut] },
      transport,
      resolution.rcode,
    );
    if (full.length <= limit) return full;
    // Too large for UDP: glue first goes, then everything but the question, with TC set so the client asks over TCP.
    const trimmed = dnsPacket.encode({ ...base, flags: headerFlags, answers: resolution.answers, authorities: resolution.authorities, additionals: ednsOut });
    if (trimmed.length <= limit) return trimmed;
    return dnsPacket.encode({ ...base, flags: headerFlags | dnsPacket.TRUNCATED_RESPONSE, additionals: ednsOut });
  }

  private encode(packet: Packet, transport: 'udp' | 'tcp', rcode: string): Buffer {
    try {
      const encoded = dnsPacket.encode(packet);
      this.options.onQuery?.(rcode, transport);
      return encoded;
    } catch {
      // A question that decodes but cannot be written back (an odd name or type): a bare FORMERR header.
      this.options.onQuery?.('FORMERR', transport);
      return dnsPacket.encode({ id: packet.id, type: 'response', flags: ((packet.flags ?? 0) & 0x7900) | RCODE.FORMERR, questions: [] });
    }
  }

  /** RFC 7766: two-byte length-prefixed messages, several per connection, answered in order. */
  private serveTcp(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    let buffered: Buffer = Buffer.alloc(0);
    let pending = 0;
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        if (++pending >= TCP_MAX_PENDING) socket.pause();
        const reply = this.answer(Buffer.from(message), 'tcp').catch(() => undefined);
        chain = chain.then(async () => {
          const answer = await reply;
          if (--pending < TCP_MAX_PENDING) socket.resume();
          if (!answer || socket.destroyed) return;
          const framed = Buffer.allocUnsafe(2 + answer.length);
          framed.writeUInt16BE(answer.length, 0);
          answer.copy(framed, 2);
          socket.write(framed);
        });
      }
    });
    // A client may half-close after its last query: it still gets the answers, then the connection ends.
    socket.on('end', () => void chain.then(() => socket.end()));
  }
}

/**
 * Whether the question's name (the first, at offset 12) is one dns-packet writes back byte for byte. It reads a
 * label as UTF-8 and writes names split at dots, so a label holding a dot, a space or control character, or a byte
 * above 0x7e would be answered as another name, or as a label over 63 bytes that makes the whole answer unreadable.
 * Only called on a message dns-packet decoded, whose pointers therefore all lead backwards.
 */
function plainQuestionName(message: Buffer): boolean {
  let offset = 12;
  for (let steps = 0; steps < 256; steps++) {
    const length = message[offset];
    if (length === undefined) return false;
    if (length === 0) return true;
    if ((length & 0xc0) === 0xc0) {
      if (offset + 1 >= message.length) return false;
      offset = message.readUInt16BE(offset) & 0x3fff;
      continue;
    }
    if (length > 63 || offset + length >= message.length) return false;
    for (let i = offset + 1; i <= offset + length; i++) {
      const byte = message[i]!;
      if (byte <= 0x20 || byte >= 0x7f || byte === 0x2e) return false;
    }
    offset += length + 1;
  }
  return false;
}

function opcodeFlags(opcode: number, recursionDesired: boolean): number {
  return ((opcode & 0xf) << 11) | (recursionDesired ? dnsPacket.RECURSION_DESIRED : 0);
}
