// The dashboard's doors without a browser: sign-in page, refused tokens and streams, the CSP of every response,
// and the per-second request counts it charts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RequestRates, WINDOW_SECONDS } from '../../../plugins/dashboard/rates.ts';
import { ADMIN_TOKEN, startEdge, stopWorld, type TestEdge } from '../../helpers/harness.ts';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
const form = { 'content-type': 'application/x-www-form-urlencoded' };

let edge: TestEdge;

before(async () => {
  edge = await startEdge();
});

after(() => stopWorld({ edge }));

async function signIn(token = ADMIN_TOKEN, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${edge.api}/dashboard/session`, { method: 'POST', headers: { ...form, ...headers }, body: `token=${encodeURIComponent(token)}`, redirect: 'manual' });
}

/** Reads an event stream until `count` data events arrived. */
async function readEvents(response: Response, count: number): Promise<unknown[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const events = () => text.split('\n\n').filter((block) => block.startsWith('data: ')).map((block) => JSON.parse(block.slice(6)));
  while (events().length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return events().slice(0, count);
}

describe('dashboard sign-in and CSP', () => {
  it('without a session, /dashboard is the sign-in page under the strict CSP', async () => {
    const response = await fetch(`${edge.api}/dashboard`);
    assert.equal(response.status, 200);
    assert.ok(response.headers.get('content-security-policy')?.startsWith(CSP), response.headers.get('content-security-policy') ?? 'no CSP');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    const page = await response.text();
    assert.match(page, /<form method="post" action="\/dashboard\/session">/);
    assert.match(page, /id="token"/);
    assert.doesNotMatch(page, /id="tunnels"/);
    assert.doesNotMatch(page, /<script>|<style>|style="/, 'no inline script or style');
  });

  it('the events stream refuses a caller without a session or the admin token with 401', async () => {
    const none = await fetch(`${edge.api}/dashboard/events`);
    assert.equal(none.status, 401);
    assert.match(((await none.json()) as { error: string }).error, /sign in/);
    const forged = await fetch(`${edge.api}/dashboard/events`, { headers: { cookie: 'burrow_dashboard=forged' } });
    assert.equal(forged.status, 401);
    await forged.text();
    const wrongBearer = await fetch(`${edge.api}/dashboard/events`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrongBearer.status, 401);
    await wrongBearer.text();
  });

  it('a wrong token is refused on the sign-in page with a clear message and no cookie', async () => {
    const response = await signIn('not-the-admin-token');
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('set-cookie'), null);
    assert.match(await response.text(), /role="alert">That is not the admin token of this edge\./);
  });

  it('a sign-in posted from another site is refused', async () => {
    const response = await signIn(ADMIN_TOKEN, { origin: 'http://evil.example' });
    assert.equal(response.status, 403);
    assert.equal(response.headers.get('set-cookie'), null);
    await response.text();
  });

  it('the admin token gives an HttpOnly, SameSite=Strict session: the dashboard, its assets and a stream of snapshots', async () => {
    const response = await signIn();
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/dashboard');
    const setCookie = response.headers.get('set-cookie')!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\/dashboard/);
    const cookie = setCookie.split(';')[0]!;

    const page = await fetch(`${edge.api}/dashboard`, { headers: { cookie } });
    assert.ok(page.headers.get('content-security-policy')?.startsWith(CSP));
    const html = await page.text();
    assert.match(html, /<script src="\/dashboard\/app\.js" defer><\/script>/);
    assert.match(html, /id="tunnels"/);

    for (const [asset, type] of [['app.js', 'text/javascript'], ['app.css', 'text/css']] as const) {
      const served = await fetch(`${edge.api}/dashboard/${asset}`);
      assert.equal(served.status, 200);
      assert.match(served.headers.get('content-type') ?? '', new RegExp(type));
      assert.ok(served.headers.get('content-security-policy')?.startsWith(CSP));
      assert.ok((await served.text()).length > 100);
    }

    const stream = await fetch(`${edge.api}/dashboard/events`, { headers: { cookie } });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    const [first, second] = (await readEvents(stream, 2)) as { pop: string; network: boolean; pops: { name: string }[]; tunnels: unknown[]; windowSeconds: number }[];
    assert.equal(first!.pop, 'test');
    assert.equal(first!.network, false);
    assert.deepEqual(first!.pops.map((pop) => pop.name), ['test']);
    assert.deepEqual(first!.tunnels, []);
    assert.equal(second!.windowSeconds, WINDOW_SECONDS);

    const signedOut = await fetch(`${edge.api}/dashboard/sign-out`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    assert.equal(signedOut.status, 303);
    const after = await fetch(`${edge.api}/dashboard/events`, { headers: { cookie } });
    assert.equal(after.status, 401, 'the session ends with sign-out');
    await after.text();
  });

  it('the events stream also takes the admin token as a bearer token', async () => {
    const stream = await fetch(`${edge.api}/dashboard/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(stream.status, 200);
    const [snapshot] = (await readEvents(stream, 1)) as { pop: string }[];
    assert.equal(snapshot!.pop, 'test');
  });
});

describe('request rates', () => {
  it('counts requests and errors per tunnel per second, and forgets seconds older than the window', () => {
    let now = 1_000_000_000;
    const rates = new RequestRates(() => now);
    rates.count('a', false);
    rates.count('a', true);
    rates.count('b', false);
    now += 1_000;
    rates.count('a', false);
    const a = rates.series('a');
    assert.equal(a.requests.length, WINDOW_SECONDS);
    assert.deepEqual(a.requests.slice(-2), [2, 1]);
    assert.deepEqual(a.errors.slice(-2), [1, 0]);
    assert.deepEqual(rates.series('b').requests.slice(-2), [1, 0]);

    now += (WINDOW_SECONDS - 1) * 1_000;
    assert.deepEqual(rates.series('a').requests.slice(-1), [0]);
    assert.equal(rates.series('a').requests.reduce((x, y) => x + y), 1, 'the oldest second left the window');
    rates.count('a', false);
    assert.deepEqual(rates.series('a').requests.slice(-1), [1], 'its bucket was reset for the new second, not added to');
    assert.equal(rates.series('a').requests.reduce((x, y) => x + y), 2);

    rates.keepOnly(new Set(['a']));
    assert.equal(rates.series('b').requests.reduce((x, y) => x + y), 0);
  });
});
