// Smart routing on the request path: a visitor request for a tunnel served at other PoPs leaves on the link toward
// the nearest of them, and each PoP it reaches serves it from a local tunnel connection or passes it one hop on.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { BurrowError, Headers, normalizeHost, type EdgePluginApi, type Forwarding, type VisitorContext } from 'burrow';
import { answerError, bridge } from './bridge.ts';
import type { PeerLinks } from './links.ts';
import type { NetworkMap } from './map.ts';
import type { NetworkMetrics } from './metrics.ts';

export class Forwarder {
  private readonly self: string;
  private readonly maxHops: number;

  constructor(
    private readonly api: EdgePluginApi,
    private readonly links: PeerLinks,
    private readonly map: NetworkMap,
    private readonly metrics: NetworkMetrics,
  ) {
    this.self = api.settings.pop;
    this.maxHops = api.settings.network?.maxHops ?? 8;
  }

  /** At the PoP the visitor landed at: undefined when a local connection serves the tunnel (or no PoP can). */
  async resolve(ctx: VisitorContext): Promise<Forwarding | undefined> {
    const tunnel = ctx.tunnel!;
    if (this.hasLocal(tunnel.id)) return undefined;
    const toward = await this.map.toward(tunnel.id);
    const next = toward?.route.path[1];
    if (!next) return undefined;
    return {
      via: next,
      path: toward.route.path,
      open: (headers, options) => {
        const session = this.links.session(next);
        if (!session) throw new BurrowError('BURROW_ERR_POP_LINK', `the link to ${next} went down`);
        headers[Headers.hops] = '1';
        headers[Headers.path] = this.self;
        this.metrics.forwarded(next);
        return session.request(headers, options);
      },
    };
  }

  /** A request another PoP sent here: serve it from a tunnel connection here, or pass it on toward one. */
  handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, from: string): void {
    void this.route(stream, headers, from).catch((error) => {
      this.api.log.warn({ err: (error as Error).message, ray: headers[Headers.ray], from }, 'could not route a forwarded request');
      answerError(stream, 502, `PoP ${this.self} could not route the request.`);
    });
  }

  private async route(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, from: string): Promise<void> {
    const ray = headers[Headers.ray];
    const path = String(headers[Headers.path] ?? from).split(',');
    const hops = Number(headers[Headers.hops] ?? 1);
    if (path.includes(this.self)) {
      this.api.log.warn({ ray, path: path.join(','), from }, 'forwarding loop');
      return answerError(stream, 508, `The request came back to PoP ${this.self} (path ${[...path, this.self].join(' > ')}).`);
    }
    const hostname = normalizeHost(headers[':authority'] ?? headers.host);
    const tunnel = hostname ? await this.api.hooks.resolveTunnel.promise(hostname) : undefined;
    if (!tunnel) return answerError(stream, 404, `No tunnel is routed to ${hostname || 'this hostname'} (at PoP ${this.self}).`);

    const out: OutgoingHttpHeaders = {};
    for (const name in headers) out[name] = headers[name];
    out[Headers.path] = [...path, this.self].join(',');
    const options = { endStream: stream.endAfterHeaders, waitForTrailers: !stream.endAfterHeaders };

    if (this.hasLocal(tunnel.id)) {
      delete out[Headers.hops];
      const opened = this.api.connections.openStream(tunnel.id, out, options);
      if (opened) return bridge(stream, opened.stream);
    }
    if (hops >= this.maxHops) {
      return answerError(stream, 508, `The request reached edge.network.maxHops (${this.maxHops}) at PoP ${this.self} before its tunnel.`);
    }
    const next = await this.nextHop(tunnel.id);
    const session = next ? this.links.session(next) : undefined;
    if (!next || !session) return answerError(stream, 530, 'This hostname is routed to a tunnel, but no connector for it is online at a reachable PoP.');
    out[Headers.hops] = String(hops + 1);
    this.metrics.forwarded(next);
    bridge(stream, session.request(out, options));
  }

  private hasLocal(tunnelId: string): boolean {
    return this.api.connections.forTunnel(tunnelId).some((connection) => connection.usable);
  }

  private async nextHop(tunnelId: string): Promise<string | undefined> {
    const toward = await this.map.toward(tunnelId);
    return toward?.route.path[1];
  }
}
