// Built-in plugin: a live dashboard on the edge API (GET /dashboard): PoPs, links and routes, tunnels with their
// connectors and connections, and request and error rates per tunnel, pushed to the page once a second (SSE).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { ApiAuthToken, ApiError, definePlugin, isSameOrigin, readForm, requestCookies, durationSchema, z, type ApiRequest, type ApiResult } from 'burrow';
import { dashboardPage, PAGE_HEADERS, signInPage } from './page.ts';
import { RequestRates } from './rates.ts';
import { buildSnapshot } from './snapshot.ts';

const options = z
  .strictObject({
    /** How long the operator stays signed in. */
    session: durationSchema.default(8 * 3_600_000),
  })
  .prefault({});

const COOKIE = 'burrow_dashboard';
const PUSH_INTERVAL_MS = 1_000;
const MAX_FORM = 16 * 1024;
/** A page that reads slower than this much queued data is dropped (it reconnects and starts afresh). */
const MAX_QUEUED = 4 * 1024 * 1024;

const assets = {
  'app.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(path.join(import.meta.dirname, 'app.js'), 'utf8') },
  'app.css': { type: 'text/css; charset=utf-8', body: readFileSync(path.join(import.meta.dirname, 'app.css'), 'utf8') },
};

interface Viewer {
  readonly res: ServerResponse;
  /** The session it signed in with; undefined for a caller with the admin token in Authorization. */
  readonly session?: string;
}

export default definePlugin({
  id: 'dashboard',
  description: 'Live dashboard on the edge API: PoPs, links, routes, tunnels, connections and request rates',
  options,

  edge(api, opts) {
    const rates = new RequestRates();
    const sessions = new Map<string, number>();
    const viewers = new Set<Viewer>();
    const pop = api.settings.pop;
    const html = (status: number, body: string, headers: Record<string, string> = {}): ApiResult => ({ status, html: body, headers: { ...PAGE_HEADERS, ...headers } });

    // Per request: one counter increment once the response has ended; requests for no tunnel are not counted.
    // An observer, not middleware: without middleware the edge sends a request straight to its tunnel.
    api.hooks.requestDone.tap('dashboard', (request) => {
      if (request.tunnel) rates.count(request.tunnel, request.status >= 500 || (!request.upgrade && !request.completed));
    });

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
    const live = (viewer: Viewer) => viewer.session === undefined || (sessions.get(viewer.session) ?? 0) > Date.now();

    let timer: NodeJS.Timeout | undefined;
    let soon: NodeJS.Timeout | undefined;
    let pushing = false;
    const push = async () => {
      if (pushing || viewers.size === 0) return;
      pushing = true;
      try {
        const data = `data: ${JSON.stringify(await buildSnapshot(api, rates))}\n\n`;
        for (const viewer of viewers) {
          if (!live(viewer)) {
            viewer.res.end('event: signed-out\ndata: {}\n\n');
            viewers.delete(viewer);
          } else if (viewer.res.writableLength > MAX_QUEUED) {
            viewer.res.destroy();
            viewers.delete(viewer);
          } else {
            viewer.res.write(data);
          }
        }
      } catch (error) {
        api.log.warn({ err: (error as Error).message }, 'dashboard snapshot failed');
      } finally {
        pushing = false;
      }
    };
    // Connections come and go between ticks: show them at once rather than up to a second later.
    const pushSoon = async () => {
      soon ??= setTimeout(() => {
        soon = undefined;
        void push();
      }, 100);
    };
    api.hooks.afterRegister.tapPromise('dashboard', pushSoon);
    api.hooks.connectionLost.tapPromise('dashboard', pushSoon);

    const watch = (viewer: Viewer) => {
      viewers.add(viewer);
      viewer.res.once('close', () => {
        viewers.delete(viewer);
        if (viewers.size === 0) {
          clearInterval(timer);
          timer = undefined;
        }
      });
      timer ??= setInterval(() => void push(), PUSH_INTERVAL_MS);
      void push();
    };

    api.route('GET', '/dashboard', (req) => (sessionOf(req) ? html(200, dashboardPage(pop)) : html(200, signInPage(pop))), { auth: 'none' });

    for (const [name, asset] of Object.entries(assets)) {
      api.route('GET', `/dashboard/${name}`, () => ({ text: asset.body, headers: { ...PAGE_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache' } }), { auth: 'none' });
    }

    api.route(
      'POST',
      '/dashboard/session',
      async (req) => {
        if (!isSameOrigin(req.raw)) return html(403, signInPage(pop, 'This form was posted from another site.'));
        const form = await readForm(req.raw, MAX_FORM);
        if (!api.services.get(ApiAuthToken).authenticate(`Bearer ${form.get('token') ?? ''}`)?.admin) {
          api.log.warn({ from: req.raw.socket.remoteAddress }, 'wrong admin token on the dashboard');
          return html(401, signInPage(pop, 'That is not the admin token of this edge.'));
        }
        const now = Date.now();
        for (const [sid, expires] of sessions) if (expires <= now) sessions.delete(sid);
        const sid = randomBytes(32).toString('base64url');
        sessions.set(sid, now + opts.session);
        return {
          status: 303,
          text: '',
          headers: { location: '/dashboard', 'set-cookie': `${COOKIE}=${sid}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(opts.session / 1000)}` },
        };
      },
      { auth: 'none' },
    );

    api.route(
      'POST',
      '/dashboard/sign-out',
      (req) => {
        if (!isSameOrigin(req.raw)) return html(403, signInPage(pop, 'This form was posted from another site.'));
        const sid = sessionOf(req);
        if (sid) sessions.delete(sid);
        return { status: 303, text: '', headers: { location: '/dashboard', 'set-cookie': `${COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0` } };
      },
      { auth: 'none' },
    );

    api.route(
      'GET',
      '/dashboard/events',
      (req, res) => {
        const session = sessionOf(req);
        if (!session && !req.principal.admin) throw new ApiError(401, 'sign in on /dashboard first', 'open /dashboard and sign in with the edge admin token, or send it as Authorization: Bearer <token>');
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        res.write(`retry: 2000\n\n`);
        watch({ res, ...(session ? { session } : {}) });
      },
      { auth: 'none' },
    );

    return () => {
      clearInterval(timer);
      clearTimeout(soon);
      for (const viewer of viewers) viewer.res.end();
      viewers.clear();
    };
  },
});

