// The edge <-> connector wire contract: control-stream messages, reserved headers, HTTP/2 settings.
import type { Settings } from 'node:http2';
import { StringDecoder } from 'node:string_decoder';
import { BurrowError } from '../kernel/errors.ts';

export const PROTOCOL_VERSION = 1;
/** The name the edge's tunnel certificate is issued for; connectors verify it (like cloudflared's h2.cftunnel.com). */
export const EDGE_SERVER_NAME = 'tunnel.burrow.internal';
export const CONTROL_PATH = '/_burrow/control';

/** Headers the edge adds on each stream toward the connector, and removes when a visitor sends them. */
export const Headers = {
  ray: 'burrow-ray',
  connectingIp: 'burrow-connecting-ip',
  /** Set by the connector on a response the edge should render as an error page. */
  originError: 'burrow-origin-error',
  /** Marks a stream that carries an upgraded (WebSocket or raw) connection. */
  upgrade: 'burrow-upgrade',
  /** PoP to PoP: how many links the request has crossed so far. */
  hops: 'burrow-hops',
  /** The PoPs a request crossed, landing PoP first and serving PoP last (`fra,lhr,iad`); the origin sees it. */
  path: 'burrow-path',
} as const;

export interface RegisterRequest {
  type: 'register';
  tunnelId: string;
  tunnelSecret: string;
  connIndex: number;
  connectorId: string;
  version: string;
  /** PROTOCOL_VERSION of the connector; absent from connectors that predate it (version 1). */
  protocol?: number;
  /** Hostnames the connector's ingress names, for display only; routing comes from the edge's routes. */
  hostnames?: string[];
}

export interface UnregisterRequest {
  type: 'unregister';
}

export type ConnectorMessage = RegisterRequest | UnregisterRequest;

export type EdgeMessage =
  | { type: 'registered'; connectionId: string; pop: string; tunnelId: string }
  | { type: 'refused'; message: string; retry: boolean; retryAfterMs?: number }
  | { type: 'unregistered' };

/**
 * Large windows so one stream can move hundreds of MB/s on loopback: Node's default 64 KiB
 * window caps a stream at a few MB/s per round trip.
 */
export const STREAM_WINDOW = 16 * 1024 * 1024;
export const SESSION_WINDOW = 128 * 1024 * 1024;

export const http2Settings: Settings = {
  initialWindowSize: STREAM_WINDOW,
  // maxFrameSize: 256 * 1024,
  maxConcurrentStreams: 100_000,
  maxHeaderListSize: 256 * 1024,
  enableConnectProtocol: true,
};

export const http2SessionOptions = {
  settings: http2Settings,
  /** Megabytes; the default (10) trips ENHANCE_YOUR_CALM once large windows fill. */
  maxSessionMemory: 512,
  maxHeaderListPairs: 4096,
  peerMaxConcurrentStreams: 100_000,
};

/** The longest control message (one line of JSON, in characters) a peer may send; a longer one ends the control stream. */
export const MAX_MESSAGE_LENGTH = 1024 * 1024;

/** A control-stream line that is not JSON, or not a message of this protocol. */
export class ProtocolError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BURROW_ERR_PROTOCOL', message, options);
  }
}

/**
 * Reads newline-delimited JSON messages from a stream, each checked by `parse` (parseConnectorMessage,
 * parseEdgeMessage). Multi-byte characters split across chunks are kept whole.
 */
export async function* readMessages<T>(stream: AsyncIterable<Buffer | string>, parse: (line: string) => T): AsyncGenerator<T> {
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  for await (const chunk of stream) {
    buffered += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    let newline: number;
    while ((newline = buffered.indexOf('\n', start)) >= 0) {
      const line = buffered.slice(start, newline);
      start = newline + 1;
      if (line.length > MAX_MESSAGE_LENGTH) throw new ProtocolError('control message too large');
      if (line.trim()) yield parse(line);
    }
    buffered = buffered.slice(start);
    if (buffered.length > MAX_MESSAGE_LENGTH) throw new ProtocolError('control message too large');
  }
}

type Fields = Record<string, unknown>;

function decodeObject(line: string, side: string): Fields & { type: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new ProtocolError(`${side} control message is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError(`${side} control message is not a JSON object`);
  const type = (value as Fields).type;
  if (typeof type !== 'string') throw new ProtocolError(`${side} control message has no type`);
  return value as Fields & { type: string };
}

const KINDS = {
  string: { is: (value: unknown) => typeof value === 'string', what: 'a string' },
  boolean: { is: (value: unknown) => typeof value === 'boolean', what: 'true or false' },
  index: { is: (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0, what: 'a non-negative integer' },
  integer: { is: (value: unknown) => Number.isSafeInteger(value), what: 'an integer' },
  duration: { is: (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0, what: 'a non-negative number' },
  strings: { is: (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === 'string'), what: 'a list of strings' },
} as const;

function field(message: Fields & { type: string }, key: string, kind: keyof typeof KINDS, optional = false): void {
  const value = message[key];
  if (value === undefined ? optional : KINDS[kind].is(value)) return;
  throw new ProtocolError(`control message "${message.type}": ${key} is ${value === undefined ? 'missing' : `not ${KINDS[kind].what}`}`);
}

/** One line from a connector, checked: a register or unregister request, or a ProtocolError. Unknown keys are ignored. */
export function parseConnectorMessage(line: string): ConnectorMessage {
  const message = decodeObject(line, 'connector');
  switch (message.type) {
    case 'register':
      for (const key of ['tunnelId', 'tunnelSecret', 'connectorId', 'version']) field(message, key, 'string');
      field(message, 'connIndex', 'index');
      field(message, 'protocol', 'integer', true);
      field(message, 'hostnames', 'strings', true);
      return {
        type: 'register',
        tunnelId: message.tunnelId as string,
        tunnelSecret: message.tunnelSecret as string,
        connIndex: message.connIndex as number,
        connectorId: message.connectorId as string,
        version: message.version as string,
        ...(message.protocol === undefined ? {} : { protocol: message.protocol as number }),
        ...(message.hostnames === undefined ? {} : { hostnames: [...(message.hostnames as string[])] }),
      };
    case 'unregister':
      return { type: 'unregister' };
    default:
      throw new ProtocolError(`unknown connector control message ${JSON.stringify(message.type.slice(0, 64))}`);
  }
}

/** One line from the edge, checked: registered, refused or unregistered, or a ProtocolError. Unknown keys are ignored. */
export function parseEdgeMessage(line: string): EdgeMessage {
  const message = decodeObject(line, 'edge');
  switch (message.type) {
    case 'registered':
      for (const key of ['connectionId', 'pop', 'tunnelId']) field(message, key, 'string');
      return { type: 'registered', connectionId: message.connectionId as string, pop: message.pop as string, tunnelId: message.tunnelId as string };
    case 'refused':
      field(message, 'message', 'string');
      field(message, 'retry', 'boolean');
      field(message, 'retryAfterMs', 'duration', true);
      return {
        type: 'refused',
        message: message.message as string,
        retry: message.retry as boolean,
        ...(message.retryAfterMs === undefined ? {} : { retryAfterMs: message.retryAfterMs as number }),
      };
    case 'unregistered':
      return { type: 'unregistered' };
    default:
      throw new ProtocolError(`unknown edge control message ${JSON.stringify(message.type.slice(0, 64))}`);
  }
}

export function encodeMessage(message: ConnectorMessage | EdgeMessage): string {
  return `${JSON.stringify(message)}\n`;
}
