// What edge middleware sees for each visitor request, and the shape of edge middleware.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientHttp2Session, ClientHttp2Stream, ClientSessionRequestOptions, OutgoingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Middleware } from '../kernel/middleware.ts';
import type { TunnelRecord } from './registry.ts';

/** What edge middleware sees for each visitor request. */
export interface VisitorContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ray: string;
  /** Host header without port, lowercase. */
  readonly hostname: string;
  readonly clientIp: string;
  readonly protocol: 'http' | 'https';
  /** Set once the tunnel lookup ran. */
  tunnel?: TunnelRecord;
  /** Set when the request is forwarded to another PoP: the PoPs it is to cross, this one first (for logs). */
  forwardedPath?: readonly string[];
  /** Set for an Upgrade (WebSocket) request: the visitor's raw connection; `res` writes to it. */
  readonly upgrade?: VisitorUpgrade;
}

export type EdgeMiddleware = Middleware<VisitorContext>;

/** The raw connection Node handed the visitor server's `'upgrade'` listener. */
export interface VisitorUpgrade {
  readonly socket: Duplex;
  readonly head: Buffer;
}

/**
 * Opens the stream a visitor request travels on: to a local tunnel connection (not on `avoid`, the one a first try
 * broke on), or toward another PoP; undefined for none.
 */
export type OpenStream = (headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions, avoid?: ClientHttp2Session) => ClientHttp2Stream | undefined;
