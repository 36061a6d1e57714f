// The inspector's memory: the last N exchanges, newest last, each holding at most two body previews.
import { EventEmitter } from 'node:events';
import type { BodyTap } from './capture.ts';

export type HeaderMap = Record<string, string | string[]>;

/** One request the connector served, as the inspector shows it. */
export interface Exchange {
  readonly id: number;
  readonly ray: string;
  readonly method: string;
  readonly host: string;
  /** Path with query, as the edge sent it (before any path-rewrite middleware). */
  readonly path: string;
  /** The `:authority` and `:scheme` the request came with, for replay. */
  readonly authority: string;
  readonly scheme: string;
  readonly rule: number;
  /** Wall clock at the start, ms since the epoch. */
  readonly startedAt: number;
  readonly requestHeaders: HeaderMap;
  readonly request: BodyTap;
  readonly response: BodyTap;
  /** The id of the exchange this one replays. */
  readonly replayOf?: number;
  state: 'pending' | 'complete' | 'aborted';
  status?: number;
  responseHeaders?: HeaderMap;
  /** Milliseconds from the start to the response headers, and to the end of the response. */
  firstByteMs?: number;
  totalMs?: number;
}

export interface ExchangeFilter {
  /** Part of the hostname, case-insensitive. */
  host?: string;
  /** `404`, or a class such as `5xx`. */
  status?: string;
}

/** Emits `change` (id) when an exchange is added or finishes. */
export class ExchangeStore extends EventEmitter {
  private readonly exchanges: Exchange[] = [];
  private nextId = 1;

  constructor(readonly max: number) {
    super();
    this.setMaxListeners(0);
  }

  /** Adds an exchange; the oldest one leaves when the store is full, and its previews are dropped at once. */
  add(fields: Omit<Exchange, 'id'>): Exchange {
    const exchange: Exchange = { ...fields, id: this.nextId++ };
    this.exchanges.push(exchange);
    while (this.exchanges.length > this.max) {
      const evicted = this.exchanges.shift()!;
      evicted.request.release();
      evicted.response.release();
    }
    this.emit('change', exchange.id);
    return exchange;
  }

  finished(exchange: Exchange): void {
    this.emit('change', exchange.id);
  }

  get(id: number): Exchange | undefined {
    return this.exchanges.find((exchange) => exchange.id === id);
  }

  byRay(ray: string): Exchange | undefined {
    for (let i = this.exchanges.length - 1; i >= 0; i--) if (this.exchanges[i]!.ray === ray) return this.exchanges[i];
    return undefined;
  }

  /** Newest first. */
  list(filter: ExchangeFilter = {}): Exchange[] {
    const host = filter.host?.toLowerCase();
    const status = filter.status ? statusMatcher(filter.status) : undefined;
    const matches: Exchange[] = [];
    for (let i = this.exchanges.length - 1; i >= 0; i--) {
      const exchange = this.exchanges[i]!;
      if (host && !exchange.host.includes(host)) continue;
      if (status && !status(exchange.status)) continue;
      matches.push(exchange);
    }
    return matches;
  }
}

/** `404` matches that status, `4xx` the class; anything else is refused. */
export function statusMatcher(filter: string): ((status: number | undefined) => boolean) | undefined {
  const text = filter.trim().toLowerCase();
  if (/^[1-5]\d\d$/.test(text)) return (status) => status === Number(text);
  if (/^[1-5]xx$/.test(text)) return (status) => status !== undefined && Math.floor(status / 100) === Number(text[0]);
  return undefined;
}
