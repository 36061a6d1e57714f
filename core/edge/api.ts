// The edge API contract: what a route handler gets and returns. The listener and router are a plugin's (the api role).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serviceToken } from '../kernel/services.ts';
import type { Principal } from './trust.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface ApiRequest {
  readonly method: HttpMethod;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly raw: IncomingMessage;
  /** Set for routes that require authentication. */
  readonly principal: Principal;
  /** The parsed JSON body (at most 1 MiB). */
  json<T = unknown>(): Promise<T>;
}

/** What a handler returns; a handler that wrote to `res` itself returns nothing. */
export type ApiResult = { status?: number; json?: unknown; html?: string; text?: string; headers?: Record<string, string> } | void;
export type ApiHandler = (req: ApiRequest, res: ServerResponse) => Promise<ApiResult> | ApiResult;
export interface ApiRouteOptions {
  /** `admin`: the operator's token; `zone`: admin or a zone token; `none`: public. */
  auth: 'admin' | 'zone' | 'none';
}

export class ApiError extends Error {
  /** Thrown on purpose by hooks and handlers: passes through hook error wrapping unchanged. */
  readonly expected = true;
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Where `api.route` adds routes: the api role's router (the `edge-api` plugin by default). */
export interface ApiRouter {
  route(method: HttpMethod, path: string, handler: ApiHandler, options: ApiRouteOptions): void;
}

export const ApiRouterToken = serviceToken<ApiRouter>('ApiRouter');
