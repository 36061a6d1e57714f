// file:// services through a real edge and connector: caching, ranges, index pages, SPA fallback, and no escape from DIR.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connector } from '../../../core/connector/connector.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { configSchema } from '../../../config/schema.ts';
import { createTunnel, removeDir, startConnector, startEdge, tempDir, type TestEdge } from '../../helpers/harness.ts';
import { stopAll, visit } from '../../helpers/http.ts';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-SERVED-FOLDER';
const HOST = 'files.example.test';

let edge: TestEdge;
let connector: Connector;
let work: string;
let big: Buffer;

before(async () => {
  work = await tempDir('burrow-files-');
  const site = path.join(work, 'site');
  await mkdir(path.join(site, 'sub'), { recursive: true });
  await mkdir(path.join(site, 'bare'), { recursive: true });
  await mkdir(path.join(work, 'outside'), { recursive: true });
  await writeFile(path.join(work, 'secret.txt'), SECRET);
  await writeFile(path.join(work, 'outside', 'secret.txt'), SECRET);
  await writeFile(path.join(site, 'index.html'), '<h1>home</h1>');
  await writeFile(path.join(site, 'a.txt'), 'hello static world');
  await writeFile(path.join(site, 'style.css'), 'body{}');
  await writeFile(path.join(site, 'my file.txt'), 'spaced');
  await writeFile(path.join(site, '.env'), 'PASSWORD=hunter2');
  await writeFile(path.join(site, 'sub', 'index.html'), '<h1>sub</h1>');
  big = randomBytes(8 * 1024 * 1024 + 123);
  await writeFile(path.join(site, 'big.bin'), big);
  await symlink(path.join(site, 'a.txt'), path.join(site, 'link-in'));
  await symlink(path.join(work, 'secret.txt'), path.join(site, 'link-out'));
  await symlink(path.join(work, 'outside'), path.join(site, 'dir-out'));
  await symlink(path.join(work, 'secret.txt'), path.join(site, 'bare', 'index.html'));

  edge = await startEdge();
  const credentials = await createTunnel(edge, 'files', [HOST, 'spa.example.test', 'rel.example.test']);
  // A config file beside `site/` so `file://./site` resolves against its folder.
  connector = await startConnector(
    credentials,
    {
      ingress: [
        { hostname: HOST, service: `file://${site}` },
        { hostname: 'spa.example.test', service: `file://${site}?spa` },
        { hostname: 'rel.example.test', service: 'file://./site' },
        { service: 'http_status:404' },
      ],
    },
    { configFile: path.join(work, 'burrow.yml') },
  );
});

after(async () => {
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    () => removeDir(edge.dataDir),
    () => removeDir(work),
  );
});

const get = (pathname: string, options: Parameters<typeof visit>[2] = {}) => visit(edge.url, pathname, { host: HOST, ...options });

/** Sends a request line exactly as written (fetch and http.request would normalise the path) and returns the raw answer. */
function rawRequest(target: string, host = HOST): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(edge.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no answer to GET ${target}`)));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
  });
}

describe('static files', () => {
  it('serves a file with its type, length, ETag and Last-Modified', async () => {
    const res = await get('/a.txt');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello static world');
    assert.match(String(res.headers['content-type']), /^text\/plain; charset=utf-8$/i);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength('hello static world')));
    assert.match(String(res.headers.etag), /^W\/".+"$/);
    assert.ok(!Number.isNaN(Date.parse(String(res.headers['last-modified']))));
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.match(String((await get('/style.css')).headers['content-type']), /^text\/css/);
    assert.equal((await get('/my%20file.txt')).text, 'spaced');
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await get('/a.txt', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength('hello static world')));
    assert.equal(res.body.length, 0);
  });

  it('answers Range requests with 206, and unsatisfiable ranges with 416', async () => {
    const part = await get('/a.txt', { headers: { range: 'bytes=6-11' } });
    assert.equal(part.status, 206);
    assert.equal(part.text, 'static');
    assert.equal(part.headers['content-range'], 'bytes 6-11/18');
    const tail = await get('/big.bin', { headers: { range: 'bytes=-100' } });
    assert.equal(tail.status, 206);
    assert.ok(tail.body.equals(big.subarray(big.length - 100)));
    const beyond = await get('/a.txt', { headers: { range: 'bytes=1000-2000' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], 'bytes */18');
  });

  it('answers 304 to If-None-Match with the current ETag, and to If-Modified-Since', async () => {
    const first = await get('/a.txt');
    const etag = String(first.headers.etag);
    const byEtag = await get('/a.txt', { headers: { 'if-none-match': etag } });
    assert.equal(byEtag.status, 304);
    assert.equal(byEtag.body.length, 0);
    assert.equal((await get('/a.txt', { headers: { 'if-none-match': 'W/"stale"' } })).status, 200);
    const byDate = await get('/a.txt', { headers: { 'if-modified-since': String(first.headers['last-modified']) } });
    assert.equal(byDate.status, 304);
    assert.equal((await get('/a.txt', { headers: { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' } })).status, 200);
  });

  it('serves index.html for folders, redirecting to the trailing slash first', async () => {
    const home = await get('/');
    assert.equal(home.status, 200);
    assert.equal(home.text, '<h1>home</h1>');
    assert.match(String(home.headers['content-type']), /^text\/html/);
    const redirect = await get('/sub?x=1');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/sub/?x=1');
    assert.equal((await get('/sub/')).text, '<h1>sub</h1>');
  });

  it('answers 404 for missing files and dotfiles, and 405 for other methods', async () => {
    assert.equal((await get('/nope.txt')).status, 404);
    assert.equal((await get('/nope/')).status, 404);
    const dotfile = await get('/.env');
    assert.equal(dotfile.status, 404);
    assert.doesNotMatch(dotfile.text, /hunter2/);
    const post = await get('/a.txt', { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('streams a large file intact', async () => {
    const res = await get('/big.bin', { timeoutMs: 60_000 });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, big.length);
    assert.equal(createHash('sha256').update(res.body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  });

  it('follows symlinks that stay inside the folder', async () => {
    const res = await get('/link-in');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello static world');
  });

  it('resolves file://./dir against the config file folder', async () => {
    const res = await visit(edge.url, '/a.txt', { host: 'rel.example.test' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello static world');
  });
});

describe('nothing outside DIR is served', () => {
  const attempts: Array<[target: string, why: string]> = [
    ['/../secret.txt', 'a literal .. segment'],
    ['/sub/../../secret.txt', 'a .. below a real folder'],
    ['/%2e%2e/secret.txt', 'percent-encoded dots'],
    ['/%2E%2E%2Fsecret.txt', 'upper-case encoded dots and slash'],
    ['/.%2e/secret.txt', 'half-encoded dots'],
    ['/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd', 'encoded slashes climbing to /etc'],
    ['/..%5csecret.txt', 'an encoded backslash'],
    ['/..\\secret.txt', 'a raw backslash'],
    ['/a.txt%00.html', 'a NUL byte'],
    ['/%c0%ae%c0%ae/secret.txt', 'overlong UTF-8 dots'],
    ['/link-out', 'a symlink to a file outside'],
    ['/dir-out/secret.txt', 'a symlinked folder outside'],
    ['/bare/', 'an index.html that is a symlink outside'],
  ];
  for (const [target, why] of attempts) {
    it(`refuses ${why}: GET ${target}`, async () => {
      const { status, text } = await rawRequest(target);
      assert.ok([400, 403, 404].includes(status), `GET ${target} answered ${status}\n${text.slice(0, 300)}`);
      assert.ok(!text.includes(SECRET), `GET ${target} leaked the secret`);
    });
  }

  it('answers a symlink escape as a plain 404, not revealing the target', async () => {
    const { status, text } = await rawRequest('/link-out');
    assert.equal(status, 404);
    assert.doesNotMatch(text, /secret\.txt|outside/);
  });

  it('still serves the folder itself after the attempts', async () => {
    assert.equal((await rawRequest('/a.txt')).status, 200);
  });
});

describe('SPA fallback (file://DIR?spa)', () => {
  const spa = (pathname: string) => visit(edge.url, pathname, { host: 'spa.example.test' });

  it('serves index.html for unknown paths without an extension', async () => {
    const res = await spa('/app/settings/profile');
    assert.equal(res.status, 200);
    assert.equal(res.text, '<h1>home</h1>');
    assert.match(String(res.headers['content-type']), /^text\/html/);
  });

  it('still serves real files and 404s missing assets', async () => {
    assert.equal((await spa('/a.txt')).text, 'hello static world');
    assert.equal((await spa('/missing.js')).status, 404);
  });

  it('does not turn escapes into the fallback page', async () => {
    const res = await rawRequest('/link-out', 'spa.example.test');
    assert.equal(res.status, 404);
    assert.ok(!res.text.includes(SECRET));
  });
});

describe('file:// config errors', () => {
  async function prepare(service: string): Promise<unknown> {
    const connector = new Connector({ config: configSchema.parse({ ingress: [{ service }] }), log: silentLogger });
    try {
      await connector.prepare();
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await connector.stop(0);
    }
  }

  it('names the rule and the folder when the folder does not exist', async () => {
    const error = (await prepare(`file://${path.join(work, 'no-such-folder')}`)) as Error;
    assert.ok(error, 'a missing folder must fail');
    assert.match(error.message, /ingress\[0\]\.service: the folder .*no-such-folder cannot be served \(ENOENT\)\. Fix: create it/);
  });

  it('refuses a file instead of a folder', async () => {
    const error = (await prepare(`file://${path.join(work, 'secret.txt')}`)) as Error;
    assert.match(error.message, /is not a folder/);
  });

  it('refuses unknown query options', async () => {
    const error = (await prepare(`file://${work}?sap`)) as Error;
    assert.match(error.message, /unknown option "sap".*\?spa/);
  });
});
