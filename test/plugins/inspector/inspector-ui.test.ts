// The request inspector's page in a real headless Chromium: list, status filter, detail, replay, and no CSP violations.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { Connector } from '../../../core/connector/connector.ts';
import { createTunnel, removeDir, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin } from '../../helpers/harness.ts';
import { freePort, stopAll, visit } from '../../helpers/http.ts';
import { requireProgram } from '../../helpers/system.ts';

/** The little of the DOM the page functions below touch (the project compiles without the DOM library). */
interface Document {
  querySelectorAll(selector: string): { length: number };
  querySelector(selector: string): { textContent: string | null } | null;
}

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;
let browser: Browser;
let inspect: string;
let originHits = 0;

before(async () => {
  origin = await startOrigin((req, res) => {
    originHits++;
    req.resume();
    if (req.url === '/missing') return res.writeHead(404, { 'content-type': 'text/plain' }).end('<b>not here</b>');
    if (req.url === '/broken') return res.writeHead(500, { 'content-type': 'text/plain' }).end('origin failed');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, method: req.method }));
  });
  edge = await startEdge();
  inspect = `127.0.0.1:${await freePort()}`;
  connector = await startConnector(await createTunnel(edge, 'ui', ['app.example.test']), { ingress: [{ service: origin.url }], inspect });
  browser = await chromium.launch({
    executablePath: requireProgram('chromium', 'chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await stopAll(
    () => browser?.close(),
    () => connector?.stop(0),
    () => edge?.stop(),
    () => origin?.close(),
    () => edge && removeDir(edge.dataDir),
  );
});

describe('request inspector page', () => {
  it('lists requests, filters by status, shows a request and replays it, with no CSP violations', async () => {
    assert.equal((await visit(edge.url, '/orders?page=2')).status, 200);
    assert.equal((await visit(edge.url, '/missing')).status, 404);
    assert.equal((await visit(edge.url, '/broken')).status, 500);
    assert.equal((await visit(edge.url, '/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":"<script>alert(1)</script>"}' })).status, 200);

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const response = await page.goto(`http://${inspect}/`);
    assert.equal(response?.status(), 200);

    const rows = page.locator('#requests tbody tr');
    // Functions run in the page (a string would need 'unsafe-eval', which the page's CSP refuses).
    const rowCount = (count: number) =>
      page.waitForFunction((n) => (globalThis as unknown as { document: Document }).document.querySelectorAll('#requests tbody tr').length === n, count, { timeout: 30_000 });
    const textOf = (selector: string, pattern: RegExp) =>
      page.waitForFunction(
        ([where, source]) => new RegExp(source!).test((globalThis as unknown as { document: Document }).document.querySelector(where!)?.textContent ?? ''),
        [selector, pattern.source],
        { timeout: 30_000 },
      );
    await rows.nth(3).waitFor({ timeout: 30_000 });
    assert.equal(await rows.count(), 4);
    // Newest first.
    assert.match((await rows.nth(0).textContent()) ?? '', /POST.*app\.example\.test.*\/orders.*200/);
    assert.match((await rows.nth(3).textContent()) ?? '', /GET.*\/orders\?page=2.*200/);

    await page.fill('#filter-status', '5xx');
    await rowCount(1);
    assert.match((await rows.nth(0).textContent()) ?? '', /\/broken.*500/);
    await page.fill('#filter-status', '404');
    await textOf('#requests tbody tr', /\/missing/);
    await rows.nth(0).click();
    await page.waitForSelector('#detail:not([hidden])');
    // Text from the origin is shown as text, never as markup.
    assert.equal(await page.textContent('#response-body'), '<b>not here</b>');
    assert.equal(await page.locator('#response-body b').count(), 0);

    await page.fill('#filter-status', '');
    await rowCount(4);
    await rows.nth(0).click();
    await textOf('#detail-title', /POST/);
    assert.equal(await page.textContent('#request-body'), '{"item":"<script>alert(1)</script>"}');
    assert.match((await page.textContent('#request-headers')) ?? '', /content-type\s*application\/json/);

    const hitsBefore = originHits;
    await page.click('#replay');
    await rowCount(5);
    assert.match((await rows.nth(0).textContent()) ?? '', /replay of #4.*POST.*\/orders.*200/);
    await textOf('#detail-meta', /replay of #4/);
    assert.match((await page.textContent('#replay-note')) ?? '', /Replayed #4 as #5: status 200/);
    assert.equal(originHits, hitsBefore + 1);

    const screenshot = path.join(os.tmpdir(), 'burrow-inspector.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`inspector screenshot: ${screenshot}`);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
