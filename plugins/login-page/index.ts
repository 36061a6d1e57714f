// Built-in plugin: `burrow login` without --token. The CLI files a request with its CSR, prints a URL on the edge
// API and polls; the operator signs in there with the admin token and approves or denies the zone.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApiAuthToken, ApiError, definePlugin, isSameOrigin, readForm, requestCookies, durationSchema, z, type ApiRequest, type ApiResult } from 'burrow';
import { OriginCaToken } from '../origin-ca/service.ts';
import { approvalPage, PAGE_HEADERS, resultPage, signInPage } from './page.ts';
import { PendingLogins, TooManyLoginRequests, type LoginRequest } from './pending.ts';

const options = z
  .strictObject({
    /** How long a login request waits for the operator. */
    expiry: durationSchema.default(10 * 60_000),
    /** How long the operator stays signed in on the approval page. */
    session: durationSchema.default(15 * 60_000),
    /** Requests one client address may have waiting at once. */
    maxPendingPerClient: z.number().int().min(1).default(5),
  })
  .prefault({});

const COOKIE = 'burrow_login';
const POLL_INTERVAL_MS = 1_000;
const MAX_FORM = 16 * 1024;

export default definePlugin({
  id: 'login-page',
  description: 'Approval page for `burrow login` without --token (device-code style)',
  options,
  // Approving a login signs the request with origin-ca's CA.
  requires: ['origin-ca'],

  edge(api, opts) {
    const pending = new PendingLogins({ ttlMs: opts.expiry, maxPerClient: opts.maxPendingPerClient, maxTotal: 500 });
    const sessions = new Map<string, number>();
    const csrfKey = randomBytes(32);
    const csrfFor = (session: string, code: string) => createHmac('sha256', csrfKey).update(`${session}\n${code}`).digest('base64url');
    const html = (status: number, body: string, headers: Record<string, string> = {}): ApiResult => ({ status, html: body, headers: { ...PAGE_HEADERS, ...headers } });
    const gone = () => html(404, resultPage('Login request not found', 'This login request does not exist or has expired. Run `burrow login` again.'));

    const sessionOf = (req: ApiRequest): string | undefined => {
      const sid = requestCookies(req.raw)[COOKIE];
      const expires = sid ? sessions.get(sid) : undefined;
      if (!sid || expires === undefined) return undefined;
      if (expires <= Date.now()) {
        sessions.delete(sid);
        return undefined;
      }
      return sid;
    };

    api.route(
      'POST',
      '/v1/login/requests',
      async (req) => {
        const body = await req.json<{ csr?: string; zone?: string }>();
        if (typeof body.csr !== 'string' || body.csr === '') throw new ApiError(400, 'missing csr', 'send { "csr": "<PEM certificate request>", "zone": "<zone>" }');
        const served = api.settings.zones;
        if (served.length === 0) throw new ApiError(400, 'this edge serves no zones', 'add zones to edge.zones in the edge config');
        const zone = body.zone ?? (served.length === 1 ? served[0] : undefined);
        if (!zone) throw new ApiError(400, `this edge serves several zones (${served.join(', ')})`, 'pick one with --zone');
        if (!served.includes(zone)) throw new ApiError(400, `this edge does not serve ${zone}`, `pick one of ${served.join(', ')}`);
        await api.services.get(OriginCaToken).checkRequest(body.csr);
        let request: LoginRequest;
        try {
          request = pending.create({ csrPem: body.csr, zones: [zone], apiHost: req.raw.headers.host, requestedBy: req.raw.socket.remoteAddress ?? 'unknown' });
        } catch (error) {
          if (error instanceof TooManyLoginRequests) throw new ApiError(429, error.message, 'approve, deny or let the waiting requests expire first');
          throw error;
        }
        api.log.info({ code: request.code, zone, from: request.requestedBy }, 'login request waiting for approval');
        return {
          status: 201,
          json: {
            code: request.code,
            url: `http://${req.raw.headers.host}/login/${request.code}`,
            pollToken: request.pollToken,
            expiresAt: request.expiresAt.toISOString(),
            intervalMs: POLL_INTERVAL_MS,
          },
        };
      },
      { auth: 'none' },
    );

    api.route(
      'GET',
      '/v1/login/requests/:token',
      (req) => {
        const request = pending.poll(req.params.token!);
        if (!request) throw new ApiError(404, 'unknown login request: it expired or its answer was already collected', 'run `burrow login` again');
        return { json: { status: request.status, expiresAt: request.expiresAt.toISOString(), ...(request.login ? { login: request.login } : {}) } };
      },
      { auth: 'none' },
    );

    api.route(
      'GET',
      '/login/:code',
      (req) => {
        const request = pending.byOperatorCode(req.params.code!);
        if (!request) return gone();
        if (request.status !== 'pending') return html(409, resultPage(`Login ${request.status}`, `This login request was already ${request.status}.`));
        const session = sessionOf(req);
        return session ? html(200, approvalPage(request, csrfFor(session, request.code))) : html(200, signInPage(request));
      },
      { auth: 'none' },
    );

    api.route(
      'POST',
      '/login/:code/session',
      async (req) => {
        const request = pending.byOperatorCode(req.params.code!);
        if (!request) return gone();
        if (!isSameOrigin(req.raw)) return html(403, resultPage('Refused', 'This form was posted from another site.'));
        const form = await readForm(req.raw, MAX_FORM);
        if (!api.services.get(ApiAuthToken).authenticate(`Bearer ${form.get('token') ?? ''}`)?.admin) {
          api.log.warn({ code: request.code, from: req.raw.socket.remoteAddress }, 'wrong admin token on the login page');
          return html(401, signInPage(request, 'That is not the admin token of this edge.'));
        }
        const sid = randomBytes(32).toString('base64url');
        sessions.set(sid, Date.now() + opts.session);
        return {
          status: 303,
          text: '',
          headers: {
            location: `/login/${request.code}`,
            'set-cookie': `${COOKIE}=${sid}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(opts.session / 1000)}`,
          },
        };
      },
      { auth: 'none' },
    );

    for (const verb of ['approve', 'deny'] as const) {
      api.route(
        'POST',
        `/login/:code/${verb}`,
        async (req) => {
          const request = pending.byOperatorCode(req.params.code!);
          if (!request) return gone();
          const session = sessionOf(req);
          const form = await readForm(req.raw, MAX_FORM);
          if (!session || !isSameOrigin(req.raw) || !safeEqual(form.get('csrf') ?? '', csrfFor(session, request.code))) {
            return html(403, resultPage('Refused', 'Sign in again on this page before approving or denying.'));
          }
          if (request.status !== 'pending') return html(409, resultPage(`Login ${request.status}`, `This login request was already ${request.status}.`));
          if (verb === 'deny') {
            pending.deny(request);
            api.log.info({ code: request.code, zones: request.zones }, 'login denied');
            return html(200, resultPage('Login denied', 'The login was denied. The `burrow login` command stops with an error.'));
          }
          const login = await api.services.get(OriginCaToken).login(request.csrPem, request.zones, request.apiHost);
          pending.approve(request, login);
          api.log.info({ code: request.code, zones: request.zones }, 'login approved');
          return html(200, resultPage('Login approved', `${request.zones.join(', ')} approved. You can close this page: \`burrow login\` finishes by itself.`));
        },
        { auth: 'none' },
      );
    }
  },
});

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
