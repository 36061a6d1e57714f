// Replay: sends a recorded request again through the connector's own router (ingress, middleware, origin), without the edge.
import { randomBytes } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http2';
import { Headers, isHopByHop, type ConnectorPluginApi } from 'burrow';
import type { Exchange, ExchangeStore } from './store.ts';

export class ReplayRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Replayer {
  /** Resolves with the new exchange and the status it got, once the answer has started. */
  replay(exchange: Exchange): Promise<{ exchange: Exchange; status?: number }>;
  /** The exchange a replayed request replays, by its ray id; consumed when the request is recorded. */
  takeReplayOf(ray: string): number | undefined;
}

export function createReplayer(inject: ConnectorPluginApi['inject'], store: ExchangeStore, timeoutMs = 30_000): Replayer {
  const pending = new Map<string, number>();
  return {
    takeReplayOf(ray) {
      const id = pending.get(ray);
      if (id !== undefined) pending.delete(ray);
      return id;
    },
    replay(exchange) {
      if (!exchange.request.complete) {
        const why = exchange.request.ended ? `its body (${exchange.request.size} bytes) is larger than the part the inspector keeps` : 'its body had not been received in full';
        return Promise.reject(new ReplayRefused(409, `request ${exchange.id} cannot be replayed: ${why}`));
      }
      // A new ray id, ending like the original in the PoP the visitor landed at.
      const pop = exchange.ray.includes('-') ? exchange.ray.slice(exchange.ray.lastIndexOf('-')) : '-replay';
      const ray = `${randomBytes(8).toString('hex')}${pop}`;
      const headers: OutgoingHttpHeaders = {
        ':method': exchange.method,
        ':path': exchange.path,
        ':authority': exchange.authority || exchange.host,
        ':scheme': exchange.scheme,
      };
      for (const [name, value] of Object.entries(exchange.requestHeaders)) {
        if (name === 'host' || name === Headers.ray || isHopByHop(name, undefined)) continue;
        headers[name] = value;
      }
      headers[Headers.ray] = ray;
      const body = exchange.request.preview;
      pending.set(ray, exchange.id);
      return new Promise((resolve, reject) => {
        const stream = inject(headers, body.byteLength > 0 ? body : undefined);
        const timer = setTimeout(() => stream.close(), timeoutMs);
        const settle = (answer?: { ':status'?: number }) => {
          clearTimeout(timer);
          pending.delete(ray);
          const replayed = store.byRay(ray);
          if (replayed) resolve({ exchange: replayed, status: replayed.status ?? answer?.[':status'] });
          else reject(new ReplayRefused(502, `the replay of request ${exchange.id} got no answer`));
        };
        stream.once('response', settle);
        stream.once('close', () => settle());
        stream.on('error', () => undefined);
        // The answer is recorded on the connector's side; here it only has to flow.
        stream.resume();
      });
    },
  };
}
