// The edge <-> connector wire contract: control-stream messages, reserved headers, HTTP/2 settings.
import type { Settings } from 'node:http2';

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

/** Reads newline-delimited JSON messages from a stream. */
export async function* readMessages<T>(stream: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  let buffered = '';
  for await (const chunk of stream) {
    buffered += chunk.toString();
    if (buffered.length > 1024 * 1024) throw new Error('control message too large');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) yield JSON.parse(line) as T;
    }
  }
}

export function encodeMessage(message: ConnectorMessage | EdgeMessage): string {
  return `${JSON.stringify(message)}\n`;
}
