// The dashboard in a real headless Chromium: sign in with the admin token, then watch a tunnel, its connections and
// its request count appear and move without reloading the page, under the dashboard's strict CSP.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Connector } from '../../../core/connector/connector.ts';
import { startDevNetwork } from '../../../plugins/network/dev/network.ts';
import { ADMIN_TOKEN, createTunnel, startConnector, startEdge, startOrigin, stopWorld, type TestEdge, type TestOrigin } from '../../helpers/harness.ts';
import { stopAll, visit } from '../../helpers/http.ts';
import { requireProgram } from '../../helpers/system.ts';

const WAIT = { timeout: 30_000 };

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector | undefined;
let browser: Browser;

before(async () => {
  edge = await startEdge();
  origin = await startOrigin((req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('ok');
  });
  browser = await chromium.launch({
    executablePath: requireProgram('chromium', 'chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(() => stopAll(() => browser?.close(), () => stopWorld({ connector, edge, origin })));

/** Console errors and CSP violations the page reports, and uncaught errors in its script. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

const textOf = (page: Page, selector: string) => page.locator(selector).first().textContent(WAIT);

async function signIn(page: Page, api: string, token: string): Promise<void> {
  await page.goto(`${api}/dashboard`);
  await page.fill('#token', token);
  await page.click('#sign-in');
  await page.waitForSelector('#live.on', WAIT);
}

describe('dashboard in a browser', () => {
  it('signs in with the admin token and follows a tunnel, its connections and its requests live', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems = watchProblems(page);
    // CSP violations also reach the page as events: count them wherever they happen.
    await page.addInitScript(`window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));`);

    const response = await page.goto(`${edge.api}/dashboard`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal(await page.locator('#tunnels').count(), 0, 'nothing of the dashboard before signing in');

    await page.fill('#token', 'not-the-admin-token');
    await page.click('#sign-in');
    assert.match((await textOf(page, '[role=alert]')) ?? '', /not the admin token/);
    assert.equal(await page.locator('#tunnels').count(), 0);

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#sign-in');
    await page.waitForSelector('#live.on', WAIT);
    assert.equal(await textOf(page, '#pops tbody tr[data-pop="test"] td'), 'test (this PoP)');
    assert.match((await textOf(page, '#network-note')) ?? '', /single edge/);
    // Marks this document: if the page reloaded, the mark would be gone.
    await page.evaluate(() => ((globalThis as { mark?: string }).mark = 'same document'));

    const credentials = await createTunnel(edge, 'shop', ['shop.example.test']);
    connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
    const tunnel = `[data-tunnel="${credentials.tunnelId}"]`;
    await page.waitForSelector(`${tunnel} .badge.up`, WAIT);
    await page.locator(`${tunnel} tr.connection`).nth(1).waitFor(WAIT);
    assert.equal(await textOf(page, `${tunnel} .connections-count`), '2');
    assert.equal(await textOf(page, `${tunnel} .connectors-count`), '1');
    assert.equal(await textOf(page, `${tunnel} .hostnames`), 'shop.example.test');
    const shownIds = await page.locator(`${tunnel} tr.connection`).evaluateAll((rows) => rows.map((row) => row.getAttribute('data-connection')).sort());
    const liveIds = edge.edge.connections.forTunnel(credentials.tunnelId).map((c) => c.id).sort();
    assert.deepEqual(shownIds, liveIds);
    assert.equal(await textOf(page, `${tunnel} .requests-total`), '0');

    for (let i = 0; i < 18; i++) assert.equal((await visit(edge.url, `/page/${i}`, { host: 'shop.example.test' })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await visit(edge.url, '/fail', { host: 'shop.example.test' })).status, 500);
    // Locators wait without evaluating strings in the page, which its CSP (no 'unsafe-eval') would refuse.
    await page.locator(`${tunnel} .requests-total`, { hasText: /^20$/ }).waitFor(WAIT);
    await page.locator(`${tunnel} .errors-total`, { hasText: /^2$/ }).waitFor(WAIT);
    assert.equal(await textOf(page, `${tunnel} .requests-total`), '20');
    assert.equal(await textOf(page, `${tunnel} .errors-total`), '2');
    assert.ok((await page.locator(`${tunnel} svg.chart path.requests`).getAttribute('d'))?.includes('L'), 'the chart is drawn');

    assert.equal(await page.evaluate(() => (globalThis as { mark?: string }).mark), 'same document', 'the page was not reloaded');
    const screenshot = path.join(os.tmpdir(), 'burrow-dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`dashboard screenshot: ${screenshot}`);

    // The connector leaves: the page says so by itself.
    await connector.stop(0);
    connector = undefined;
    await page.waitForSelector(`${tunnel} .badge.down`, WAIT);
    assert.equal(await page.locator(`${tunnel} tr.connection`).count(), 0);

    assert.deepEqual(await page.evaluate(() => (globalThis as { cspViolations?: string[] }).cspViolations), []);
    // The one resource that failed to load is the refused sign-in (401) above.
    assert.deepEqual(problems, ['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    await page.close();
  });

  it('on a network, shows every PoP with its links and the route each PoP takes, as they are measured', async () => {
    // One way: fra-lhr 10 ms, lhr-iad 10 ms, fra-iad 100 ms, so fra reaches iad through lhr.
    const latency = { 'fra-lhr': 10, 'lhr-fra': 10, 'lhr-iad': 10, 'iad-lhr': 10, 'fra-iad': 100, 'iad-fra': 100 };
    const net = await startDevNetwork({ pops: ['fra', 'lhr', 'iad'], latency, probeInterval: 500 });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    try {
      const problems = watchProblems(page);
      await signIn(page, `http://${net.pops.get('fra')!.api}`, net.adminToken);
      assert.equal(await textOf(page, '#pop'), 'fra');
      await page.locator('#pops tbody tr').nth(2).waitFor(WAIT);
      assert.deepEqual(await page.locator('#pops tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-pop'))), ['fra', 'iad', 'lhr']);
      await page.waitForSelector('[data-link="fra-lhr"]', WAIT);
      await page.waitForSelector('[data-link="fra-iad"]', WAIT);
      await page.locator('[data-route="fra-iad"]', { hasText: /^fra › lhr › iad \d/ }).waitFor(WAIT);
      await page.locator('[data-route="iad-fra"]', { hasText: /^iad › lhr › fra \d/ }).waitFor(WAIT);
      assert.match((await textOf(page, '[data-route="fra-lhr"]')) ?? '', /^fra › lhr \d/);
      assert.equal(await page.locator('svg.map circle').count(), 3);
      assert.match((await textOf(page, '#network-note')) ?? '', /3 PoPs/);
      const screenshot = path.join(os.tmpdir(), 'burrow-dashboard-network.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`dashboard screenshot (network): ${screenshot}`);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
      await net.stop(0);
    }
  });
});
