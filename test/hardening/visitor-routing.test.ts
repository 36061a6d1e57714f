// Hostile Host headers and request targets on the visitor listener: a request reaches the tunnel of the one name it
// carries or none, and hop-by-hop tricks (h2c, Connection-listed headers) never cross the edge.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PUNYCODE_HOST, startHostileWorld, type HostileWorld } from './world.ts';

let world: HostileWorld;
before(async () => {
  world = await startHostileWorld();
});
after(() => world?.stop());

const get = (path: string, ...headers: string[]) => `GET ${path} HTTP/1.1\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;

/** A request that is served: 200 from the origin of `tunnel`, which saw exactly it. */
async function servedBy(data: string | Buffer, tunnel: 'A' | 'B', seenAs: string): Promise<void> {
  world.reset();
  const result = await world.send(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, { timeoutMs: 15_000 });
  assert.equal(result.status, 200, result.raw.toString('latin1').slice(0, 300));
  assert.equal(result.responses[0]!.text, `${tunnel} ${seenAs}`);
  await world.assertHealthy(tunnel === 'A' ? [seenAs] : [], tunnel === 'B' ? [seenAs] : []);
}

/** A request for no routed name: the 404 page, and neither origin saw it. */
async function unknownName(data: string): Promise<void> {
  world.reset();
  const result = await world.send(data, { timeoutMs: 15_000 });
  assert.equal(result.status, 404, result.raw.toString('latin1').slice(0, 300));
  assert.match(result.responses[0]!.text, /Ray ID/);
  await world.assertHealthy();
}

describe('visitor routing: Host headers', () => {
  it('two Host headers (a then b) are refused (400): neither tunnel sees the request', async () => {
    await world.refuses(get('/two', 'Host: a.example.test', 'Host: b.example.test'), 400);
  });

  it('two Host headers (b then a) are refused (400)', async () => {
    await world.refuses(get('/two', 'Host: b.example.test', 'Host: a.example.test'), 400);
  });

  it('two identical Host headers are refused (400)', async () => {
    await world.refuses(get('/two', 'Host: a.example.test', 'host: a.example.test'), 400);
  });

  it('a comma-separated Host list is refused (400)', async () => {
    await world.refuses(get('/list', 'Host: a.example.test, b.example.test'), 400);
  });

  it('a Host with a space inside is refused (400)', async () => {
    await world.refuses(get('/space', 'Host: a.example.test b.example.test'), 400);
  });

  it('a Host with userinfo (user@a.example.test) is refused (400)', async () => {
    await world.refuses(get('/userinfo', 'Host: user@a.example.test'), 400);
    await world.refuses(get('/userinfo', 'Host: b.example.test@a.example.test'), 400);
  });

  it('a Host that is a port only (:80) is refused (400)', async () => {
    await world.refuses(get('/port', 'Host: :80'), 400);
  });

  it('an empty Host is refused (400)', async () => {
    await world.refuses(get('/empty', 'Host:'), 400);
    await world.refuses(get('/empty', 'Host: '), 400);
  });

  it('an HTTP/1.1 request without Host is refused (400)', async () => {
    await world.refuses('GET /none HTTP/1.1\r\n\r\n', 400);
  });

  it('a Host with a wildcard (*.example.test) is refused (400)', async () => {
    await world.refuses(get('/star', 'Host: *.example.test'), 400);
  });

  it('a non-ASCII Host (UTF-8 bücher.example.test) is refused (400), even though its punycode form is routed', async () => {
    await world.refuses(Buffer.from(get('/utf8', 'Host: bücher.example.test'), 'utf8'), 400);
  });

  it('an IPv6 address without brackets is refused (400)', async () => {
    await world.refuses(get('/v6', 'Host: ::1'), 400);
  });

  it('the punycode name (xn--bcher-kva.example.test) routes to its tunnel (B)', async () => {
    await servedBy(get('/puny', `Host: ${PUNYCODE_HOST}`), 'B', 'GET /puny');
  });

  it('a trailing-dot host (a.example.test.) routes like a.example.test', async () => {
    await servedBy(get('/dot', 'Host: a.example.test.'), 'A', 'GET /dot');
  });

  it('an upper-case host (A.EXAMPLE.TEST) routes like a.example.test', async () => {
    await servedBy(get('/upper', 'Host: A.EXAMPLE.TEST'), 'A', 'GET /upper');
  });

  it('a host with a port (B.example.test.:8080) routes by its name', async () => {
    await servedBy(get('/port', 'Host: B.example.test.:8080'), 'B', 'GET /port');
  });

  it('an IPv6 literal ([::1]:80) is routed to no tunnel (404)', async () => {
    await unknownName(get('/v6', 'Host: [::1]:80'));
  });

  it('look-alike names (evil-a.example.test, a.example.test.evil, a.example.tes) reach no tunnel (404)', async () => {
    for (const host of ['evil-a.example.test', 'a.example.test.evil', 'a.example.tes', 'xa.example.test', 'a.b.example.test']) {
      await unknownName(get('/lookalike', `Host: ${host}`));
    }
  });
});

describe('visitor routing: request targets', () => {
  it("an absolute-form target naming b while Host names a is refused (400): b's tunnel never sees it", async () => {
    await world.refuses(get('http://b.example.test/abs', 'Host: a.example.test'), 400);
  });

  it("an absolute-form target naming a while Host names b is refused (400)", async () => {
    await world.refuses(get('http://a.example.test/abs', 'Host: b.example.test'), 400);
  });

  it('an absolute-form target with userinfo is refused (400)', async () => {
    await world.refuses(get('http://user@a.example.test/abs', 'Host: a.example.test'), 400);
  });

  it('an absolute-form target naming the Host (in any case, with a trailing dot) reaches it as a path', async () => {
    await servedBy(get('HTTP://A.Example.Test./abs?q=1', 'Host: a.example.test'), 'A', 'GET /abs?q=1');
  });

  it('an absolute-form target without a path reaches the origin as /', async () => {
    await servedBy(get('https://b.example.test', 'Host: b.example.test'), 'B', 'GET /');
  });

  it('a target that is neither a path nor an absolute URL is refused (400)', async () => {
    await world.refuses(get('b.example.test/x', 'Host: a.example.test'), 400);
    await world.refuses(get('ftp://a.example.test/x', 'Host: a.example.test'), 400);
  });

  it('CONNECT is not tunnelled: the connection closes and no origin sees it', async () => {
    world.reset();
    const result = await world.send(`CONNECT b.example.test:80 HTTP/1.1\r\nHost: b.example.test:80\r\n\r\n`, { timeoutMs: 15_000 });
    assert.ok(result.closed);
    assert.notEqual(result.status, 200);
    await world.assertHealthy();
  });
});

describe('visitor routing: hop-by-hop tricks', () => {
  it('Upgrade: h2c (with HTTP2-Settings) is served as an ordinary request: no 101, the origin sees no Upgrade', async () => {
    world.reset();
    const result = await world.send(
      `GET /h2c HTTP/1.1\r\nHost: a.example.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
      { timeoutMs: 15_000 },
    );
    assert.equal(result.status, 200, result.raw.toString('latin1').slice(0, 300));
    assert.doesNotMatch(result.raw.toString('latin1'), /101 Switching/);
    assert.ok(result.closed, 'the connection closes after the answer');
    const seen = world.seenA.find((s) => s.url === '/h2c')!;
    for (const name of ['upgrade', 'http2-settings', 'burrow-upgrade']) assert.equal(seen.headers[name], undefined, `the origin saw ${name}`);
    assert.doesNotMatch(String(seen.headers.connection ?? ''), /upgrade|http2-settings/i);
    await world.assertHealthy(['GET /h2c']);
  });

  it('Upgrade: h2c without Connection: Upgrade is an ordinary request, its Upgrade dropped', async () => {
    world.reset();
    const result = await world.send(get('/h2c-plain', 'Host: a.example.test', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'), { timeoutMs: 15_000 });
    assert.equal(result.status, 200);
    const seen = world.seenA.find((s) => s.url === '/h2c-plain')!;
    assert.equal(seen.headers.upgrade, undefined);
    assert.equal(seen.headers['http2-settings'], undefined);
    await world.assertHealthy(['GET /h2c-plain']);
  });

  it('an h2c upgrade with a body is refused (400) rather than read off the raw connection', async () => {
    await world.refuses(
      `POST /h2c HTTP/1.1\r\nHost: a.example.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 3\r\n\r\nabc`,
      400,
    );
  });

  it('headers the edge sets, listed in Connection, still reach the origin with the edge values', async () => {
    world.reset();
    const result = await world.send(
      get('/listed', 'Host: a.example.test', 'Connection: X-Forwarded-For, Burrow-Ray, Burrow-Connecting-IP, X-Forwarded-Proto', 'X-Forwarded-For: 6.6.6.6', 'Burrow-Ray: forged', 'Burrow-Connecting-IP: 6.6.6.6', 'X-Forwarded-Proto: https'),
      { timeoutMs: 15_000 },
    );
    assert.equal(result.status, 200);
    const seen = world.seenA.find((s) => s.url === '/listed')!;
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'a visitor X-Forwarded-For made hop-by-hop is not carried on');
    assert.equal(seen.headers['burrow-ray'], result.responses[0]!.headers['burrow-ray']);
    assert.equal(seen.headers['burrow-connecting-ip'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    await world.assertHealthy(['GET /listed']);
  });

  it('without Connection listing it, a visitor X-Forwarded-For is extended with the visitor address', async () => {
    world.reset();
    const result = await world.send(get('/xff', 'Host: a.example.test', 'X-Forwarded-For: 10.1.2.3'), { timeoutMs: 15_000 });
    assert.equal(result.status, 200);
    assert.equal(world.seenA.find((s) => s.url === '/xff')!.headers['x-forwarded-for'], '10.1.2.3, 127.0.0.1');
    await world.assertHealthy(['GET /xff']);
  });

  it('Connection: close, Host keeps the routed Host and closes the connection', async () => {
    world.reset();
    const result = await world.send(`GET /close-host HTTP/1.1\r\nHost: a.example.test\r\nConnection: close, Host\r\n\r\n`, { timeoutMs: 15_000 });
    assert.equal(result.status, 200);
    assert.ok(result.closed);
    assert.equal(world.seenA.find((s) => s.url === '/close-host')!.headers.host, 'a.example.test');
    await world.assertHealthy(['GET /close-host']);
  });

  it('a header named in Connection (X-Secret) is dropped, and Keep-Alive, Proxy-Connection, Trailer, Proxy-Authorization never cross', async () => {
    world.reset();
    const result = await world.send(
      get('/hop', 'Host: a.example.test', 'Connection: keep-alive, X-Secret', 'X-Secret: 1', 'Keep-Alive: timeout=5', 'Proxy-Connection: keep-alive', 'Trailer: X-Sum', 'Proxy-Authorization: Basic Zm9vOmJhcg==', 'TE: trailers, gzip', 'X-Kept: yes'),
      { timeoutMs: 15_000 },
    );
    assert.equal(result.status, 200);
    const seen = world.seenA.find((s) => s.url === '/hop')!;
    for (const name of ['x-secret', 'keep-alive', 'proxy-connection', 'trailer', 'proxy-authorization']) assert.equal(seen.headers[name], undefined, `the origin saw ${name}`);
    // HTTP/2 allows TE only as "trailers", the one value that says something end to end (gRPC needs it).
    assert.equal(seen.headers.te, 'trailers');
    assert.equal(seen.headers['x-kept'], 'yes');
    await world.assertHealthy(['GET /hop']);
  });
});
