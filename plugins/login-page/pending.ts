// Pending device-style login requests: a short code for the operator, a secret poll token for the CLI.
import { randomBytes, randomInt } from 'node:crypto';
import { BurrowError } from 'burrow';
import type { LoginResponse } from '../origin-ca/service.ts';

/** Letters only, without vowels or look-alikes, so a code is easy to read aloud and never spells a word. */
const CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

export type LoginStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface LoginRequest {
  readonly code: string;
  readonly pollToken: string;
  readonly csrPem: string;
  readonly zones: string[];
  /** The Host the CLI reached the API on: the address handed back in cert.pem. */
  readonly apiHost: string | undefined;
  readonly requestedBy: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  status: LoginStatus;
  login?: LoginResponse;
}

export class TooManyLoginRequests extends Error {}

export interface PendingLoginsOptions {
  ttlMs: number;
  /** Pending requests one client address may hold at once. */
  maxPerClient: number;
  maxTotal: number;
  now?: () => number;
}

export class PendingLogins {
  private readonly byCode = new Map<string, LoginRequest>();
  private readonly byToken = new Map<string, LoginRequest>();
  private readonly now: () => number;

  constructor(private readonly options: PendingLoginsOptions) {
    this.now = options.now ?? Date.now;
  }

  create(input: { csrPem: string; zones: string[]; apiHost: string | undefined; requestedBy: string }): LoginRequest {
    this.sweep();
    const open = [...this.byCode.values()].filter((r) => r.status === 'pending');
    if (open.length >= this.options.maxTotal) throw new TooManyLoginRequests('too many logins are waiting for approval on this edge');
    if (open.filter((r) => r.requestedBy === input.requestedBy).length >= this.options.maxPerClient) {
      throw new TooManyLoginRequests(`too many logins from ${input.requestedBy} are waiting for approval`);
    }
    let code: string;
    do code = newCode();
    while (this.byCode.has(code));
    const now = this.now();
    const request: LoginRequest = {
      ...input,
      code,
      pollToken: randomBytes(32).toString('base64url'),
      createdAt: new Date(now),
      expiresAt: new Date(now + this.options.ttlMs),
      status: 'pending',
    };
    this.byCode.set(code, request);
    this.byToken.set(request.pollToken, request);
    return request;
  }

  /** The request behind a code typed or clicked by the operator (case-insensitive, dash optional). */
  byOperatorCode(code: string): LoginRequest | undefined {
    this.sweep();
    return this.byCode.get(normalizeCode(code));
  }

  /** What the CLI sees when it polls; an answered request is handed out once, then forgotten. */
  poll(pollToken: string): LoginRequest | undefined {
    this.sweep();
    const request = this.byToken.get(pollToken);
    if (request && request.status !== 'pending') this.forget(request);
    return request;
  }

  approve(request: LoginRequest, login: LoginResponse): void {
    this.settle(request, 'approved');
    request.login = login;
  }

  deny(request: LoginRequest): void {
    this.settle(request, 'denied');
  }

  private settle(request: LoginRequest, status: 'approved' | 'denied'): void {
    if (request.status !== 'pending') throw new BurrowError('BURROW_ERR_LOGIN_ANSWERED', `this login request was already ${request.status}`);
    request.status = status;
  }

  /** Marks lapsed requests expired, and drops answered ones nobody collected within another TTL. */
  private sweep(): void {
    const now = this.now();
    for (const request of this.byCode.values()) {
      if (request.status === 'pending' && request.expiresAt.getTime() <= now) request.status = 'expired';
      if (request.expiresAt.getTime() + this.options.ttlMs <= now) this.forget(request);
    }
  }

  private forget(request: LoginRequest): void {
    this.byCode.delete(request.code);
    this.byToken.delete(request.pollToken);
  }
}

function newCode(): string {
  let out = '';
  for (let i = 0; i < 8; i++) out += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

export function normalizeCode(code: string): string {
  const letters = code.toUpperCase().replace(/[^A-Z]/g, '');
  return letters.length === 8 ? `${letters.slice(0, 4)}-${letters.slice(4)}` : code;
}
