// A small client for the edge API, used by the CLI and by connector plugins.
export class EdgeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message} (${hint})` : message);
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
      throw new EdgeApiError(0, `cannot reach the edge API at ${this.baseUrl}: ${(error as Error).cause ? String((error as Error & { cause: Error }).cause.message) : (error as Error).message}`, 'check the --edge URL and that the edge is running');
    }
    const text = await response.text();
    const data = text ? (JSON.parse(text) as T & { error?: string; hint?: string }) : ({} as T & { error?: string; hint?: string });
    if (!response.ok) throw new EdgeApiError(response.status, data.error ?? `edge API answered ${response.status}`, data.hint);
    return data;
  }
}
