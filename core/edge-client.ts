// A small client for the edge API, used by the CLI and by connector plugins.
import { BurrowError } from './kernel/errors.ts';

/** The edge API said no (`status`), or could not be reached (`status` 0); the hint is the edge's advice. */
export class EdgeApiError extends BurrowError {
  constructor(
    readonly status: number,
    message: string,
    hint?: string,
    options: { cause?: unknown } = {},
  ) {
    super('BURROW_ERR_EDGE_API', hint ? `${message} (${hint})` : message, { hint, cause: options.cause });
  }
}

export class EdgeClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new EdgeApiError(0, `cannot reach the edge API at ${this.baseUrl}: ${(error as Error).cause ? String((error as Error & { cause: Error }).cause.message) : (error as Error).message}`, 'check the --edge URL and that the edge is running', { cause: error });
    }
    const text = await response.text();
    let data: T & { error?: string; hint?: string };
    try {
      data = text ? JSON.parse(text) : {};
    } catch (error) {
      throw new EdgeApiError(response.status, `${this.baseUrl} answered ${method} ${path} (${response.status}) with something that is not JSON`, 'check that the --edge URL is the address of the edge API', { cause: error });
    }
    if (!response.ok) throw new EdgeApiError(response.status, data.error ?? `edge API answered ${response.status}`, data.hint);
    return data;
  }
}
