// `burrow login` without --token, end to end: the CLI prints a URL, an operator approves (or denies) it in a real
// headless Chromium, and the command finishes by itself with cert.pem written.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { readOriginCert } from '../../plugins/origin-ca/cert-file.ts';
import { ADMIN_TOKEN, removeDir, tempDir } from '../helpers/harness.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { stopAll } from '../helpers/http.ts';
import { startLoggedEdge } from '../helpers/identity.ts';
import { requireProgram } from '../helpers/system.ts';

let edge: Awaited<ReturnType<typeof startLoggedEdge>>;
let browser: Browser;
const homes: string[] = [];
const processes: CliProcess[] = [];

before(async () => {
  edge = await startLoggedEdge();
  browser = await chromium.launch({
    executablePath: requireProgram('chromium', 'chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await stopAll(
    ...processes.map((p) => () => p.stop(1_000)),
    () => browser?.close(),
    () => edge?.stop(),
    () => removeDir(edge.dataDir),
    ...homes.map((home) => () => removeDir(home)),
  );
});

async function newHome(): Promise<NodeJS.ProcessEnv> {
  const home = await tempDir('burrow-home-');
  homes.push(home);
  return { ...process.env, BURROW_HOME: home, BURROW_EDGE_TOKEN: '' };
}

/** Starts `burrow login` without --token and returns the URL and code it prints. */
async function startLogin(env: NodeJS.ProcessEnv, api = edge.api): Promise<{ cli: CliProcess; url: string; code: string }> {
  const cli = new CliProcess(['login', '--edge', api], env);
  processes.push(cli);
  const match = await cli.waitFor(/(http:\/\/\S+\/login\/([A-Z]{4}-[A-Z]{4}))/);
  assert.match(cli.stdout, new RegExp(`shows the code ${match[2]}`));
  return { cli, url: match[1]!, code: match[2]! };
}

async function exited(cli: CliProcess): Promise<number | null> {
  const deadline = Date.now() + 30_000;
  while (cli.running && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(cli.running, false, `burrow login still running:\n${cli.stdout}${cli.stderr}`);
  return cli.child.exitCode;
}

describe('login approval page', () => {
  it('approving in the browser finishes `burrow login` with a cert.pem whose key never left this machine', async () => {
    const env = await newHome();
    const { cli, url, code } = await startLogin(env);
    const page = await browser.newPage();
    const response = await page.goto(url);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
    assert.equal(await page.textContent('#code'), code);
    assert.equal(await page.textContent('#zones'), 'example.test');
    assert.equal(await page.locator('#approve').count(), 0, 'no approve button before signing in');

    await page.fill('#token', 'not-the-admin-token');
    await page.click('#sign-in');
    assert.match((await page.textContent('[role=alert]')) ?? '', /not the admin token/);
    assert.equal(cli.running, true, 'a wrong token approves nothing');

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#sign-in');
    await page.waitForSelector('#approve');
    assert.equal(await page.textContent('#code'), code);
    await page.click('#approve');
    assert.equal(await page.textContent('#result'), 'Login approved');
    await page.close();

    assert.equal(await exited(cli), 0, cli.stderr);
    assert.match(cli.stdout, /You have successfully logged in/);
    const file = path.join(env.BURROW_HOME!, 'cert.pem');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const cert = await readOriginCert(file);
    assert.deepEqual(cert.zones, ['example.test']);
    assert.equal(cert.edge.api, edge.api);
    assert.equal(cert.edge.tunnel, edge.edge.addresses!.tunnel);
    assert.ok(new X509Certificate(cert.certPem).checkPrivateKey(createPrivateKey(cert.keyPem)), 'the certificate is for the key made by the CLI');
    assert.ok(new X509Certificate(cert.certPem).verify(new X509Certificate(cert.caPem).publicKey), 'signed by the edge CA');
    assert.ok(!edge.lines.some((line) => JSON.stringify(line).includes('PRIVATE KEY')), 'the edge never saw a private key');

    // The login is good for the rest of the CLI.
    const created = await runCli(['tunnel', 'create', 'from-browser-login'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created tunnel from-browser-login with id [0-9a-f-]{36}/);

    // The request is answered: its page says so and offers nothing more.
    const again = await browser.newPage();
    const reopened = await again.goto(url);
    assert.equal(reopened?.status(), 404);
    await again.close();
  });

  it('denying in the browser makes `burrow login` fail with a clear message and write nothing', async () => {
    const env = await newHome();
    const { cli, url } = await startLogin(env);
    const page = await browser.newPage();
    await page.goto(url);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#sign-in');
    await page.click('#deny');
    assert.equal(await page.textContent('#result'), 'Login denied');
    await page.close();
    assert.equal(await exited(cli), 1);
    assert.match(cli.stderr, /was denied on the approval page/);
    await assert.rejects(stat(path.join(env.BURROW_HOME!, 'cert.pem')), { code: 'ENOENT' });
  });

  it('refuses approvals that do not come from a signed-in page (CSRF): no session, a wrong CSRF token, another site', async () => {
    const env = await newHome();
    const { cli, url, code } = await startLogin(env);
    const approveUrl = `${edge.api}/login/${code}/approve`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    const noSession = await fetch(approveUrl, { method: 'POST', headers: form, body: 'csrf=x' });
    assert.equal(noSession.status, 403);

    const signIn = await fetch(`${edge.api}/login/${code}/session`, { method: 'POST', headers: form, body: `token=${encodeURIComponent(ADMIN_TOKEN)}`, redirect: 'manual' });
    assert.equal(signIn.status, 303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    assert.match(signIn.headers.get('set-cookie')!, /HttpOnly/);
    assert.match(signIn.headers.get('set-cookie')!, /SameSite=Strict/);

    const wrongCsrf = await fetch(approveUrl, { method: 'POST', headers: { ...form, cookie }, body: 'csrf=forged' });
    assert.equal(wrongCsrf.status, 403);

    const page = await (await fetch(url, { headers: { cookie } })).text();
    const csrf = page.match(/name="csrf" value="([^"]+)"/)![1]!;
    const crossSite = await fetch(approveUrl, { method: 'POST', headers: { ...form, cookie, origin: 'http://evil.example' }, body: `csrf=${csrf}` });
    assert.equal(crossSite.status, 403);
    const crossSiteSignIn = await fetch(`${edge.api}/login/${code}/session`, { method: 'POST', headers: { ...form, origin: 'http://evil.example' }, body: `token=${encodeURIComponent(ADMIN_TOKEN)}` });
    assert.equal(crossSiteSignIn.status, 403);

    assert.equal(cli.running, true, 'none of those approved the login');
    const approved = await fetch(approveUrl, { method: 'POST', headers: { ...form, cookie }, body: `csrf=${csrf}` });
    assert.equal(approved.status, 200);
    assert.equal(await exited(cli), 0, cli.stderr);
  });

  it('a login nobody approves expires, and the command says so', async () => {
    const shortEdge = await startLoggedEdge({}, [{ use: 'login-page', options: { expiry: '2s' } }]);
    try {
      const env = await newHome();
      const { cli } = await startLogin(env, shortEdge.api);
      assert.equal(await exited(cli), 1);
      assert.match(cli.stderr, /expired before anyone approved it/);
    } finally {
      await shortEdge.stop();
      await removeDir(shortEdge.dataDir);
    }
  });
});
