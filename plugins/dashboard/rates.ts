// Requests and errors per tunnel, one bucket per second in a ring: counting a request is an increment, never an allocation.

/** How many seconds of history each tunnel keeps. */
export const WINDOW_SECONDS = 300;

interface Ring {
  /** The second (since the epoch) each bucket currently counts; a bucket from an older lap is reset before use. */
  readonly seconds: Float64Array;
  readonly requests: Uint32Array;
  readonly errors: Uint32Array;
}

/** A tunnel's counts over the window, oldest second first; the last entry is the second in progress. */
export interface RateSeries {
  readonly requests: number[];
  readonly errors: number[];
}

export class RequestRates {
  private readonly rings = new Map<string, Ring>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts one finished request of `tunnelId`; `error` for a 5xx answer or one that broke off. */
  count(tunnelId: string, error: boolean): void {
    let ring = this.rings.get(tunnelId);
    if (!ring) {
      ring = { seconds: new Float64Array(WINDOW_SECONDS).fill(-1), requests: new Uint32Array(WINDOW_SECONDS), errors: new Uint32Array(WINDOW_SECONDS) };
      this.rings.set(tunnelId, ring);
    }
    const second = Math.floor(this.now() / 1000);
    const slot = second % WINDOW_SECONDS;
    if (ring.seconds[slot] !== second) {
      ring.seconds[slot] = second;
      ring.requests[slot] = 0;
      ring.errors[slot] = 0;
    }
    ring.requests[slot]!++;
    if (error) ring.errors[slot]!++;
  }

  /** The last WINDOW_SECONDS seconds of `tunnelId`, zeros where nothing was counted. */
  series(tunnelId: string): RateSeries {
    const requests = new Array<number>(WINDOW_SECONDS).fill(0);
    const errors = new Array<number>(WINDOW_SECONDS).fill(0);
    const ring = this.rings.get(tunnelId);
    if (!ring) return { requests, errors };
    const newest = Math.floor(this.now() / 1000);
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      const second = newest - (WINDOW_SECONDS - 1) + i;
      const slot = second % WINDOW_SECONDS;
      if (ring.seconds[slot] === second) {
        requests[i] = ring.requests[slot]!;
        errors[i] = ring.errors[slot]!;
      }
    }
    return { requests, errors };
  }

  /** Forgets the tunnels not in `live` (deleted ones). */
  keepOnly(live: ReadonlySet<string>): void {
    for (const id of this.rings.keys()) if (!live.has(id)) this.rings.delete(id);
  }
}
