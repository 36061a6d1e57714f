// End to end through edge and connector: forwarding headers, ray ids, hop-by-hop stripping, cookies and bodies.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin, stopWorld } from '../helpers/harness.ts';
import { visit } from '../helpers/http.ts';

/** What the origin saw, echoed back as JSON. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string; // base64
}

const RAY = /^[0-9a-f]{16}-test$/;

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;

before(async () => {
  origin = await startOrigin((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen: Seen = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('base64') };
      const json = JSON.stringify(seen);
      if (req.url === '/cookies') {
        res.setHeader('set-cookie', ['session=abc; Path=/; HttpOnly', 'theme=dark, light; Path=/', 'lang=en; Path=/']);
      } else if (req.url === '/hop') {
        res.setHeader('connection', 'x-resp-hop');
        res.setHeader('x-resp-hop', 'secret');
        res.setHeader('keep-alive', 'timeout=7');
        res.setHeader('x-end-to-end', 'kept');
      } else if (req.url === '/created') {
        res.writeHead(201, { 'content-type': 'application/json', location: '/things/1', 'x-origin': 'yes' });
        res.end(json);
        return;
      } else if (req.url === '/no-content') {
        res.writeHead(204, { 'x-origin': 'yes' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(req.method === 'HEAD' ? undefined : json);
    });
  });
  edge = await startEdge();
  const credentials = await createTunnel(edge, 'app', ['app.example.test', 'catchall.example.test']);
  // Routed to a tunnel whose connector never starts: visitors get 530.
  await createTunnel(edge, 'idle', ['idle.example.test']);
  connector = await startConnector(credentials, {
    ingress: [{ hostname: 'app.example.test', service: origin.url }, { service: 'http_status:418' }],
  });
});

after(() => stopWorld({ connector, edge, origin }));

async function seenBy(path: string, options: Parameters<typeof visit>[2] = {}): Promise<{ seen: Seen; ray: string; status: number; headers: IncomingHttpHeaders }> {
  const response = await visit(edge.url, path, options);
  assert.equal(response.status, 200, response.text);
  return { seen: JSON.parse(response.text) as Seen, ray: String(response.headers['burrow-ray']), status: response.status, headers: response.headers };
}

/** Every value of header `name` in raw headers, case-insensitively. */
function rawValues(rawHeaders: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  return values;
}

describe('request headers the origin sees', () => {
  it('X-Forwarded-For gets the visitor address appended to the one the client sent', async () => {
    const { seen } = await seenBy('/xff', { headers: { 'x-forwarded-for': '203.0.113.7' } });
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(rawValues(seen.rawHeaders, 'x-forwarded-for').length, 1);
  });

  it('X-Forwarded-For is the visitor address when the client sent none', async () => {
    const { seen } = await seenBy('/xff-none');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  });

  it('X-Forwarded-Proto is http and Burrow-Connecting-IP is the visitor address', async () => {
    const { seen } = await seenBy('/proto', { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['burrow-connecting-ip'], '127.0.0.1');
  });

  it('Burrow-Ray ends in the PoP name and equals the ray of the response', async () => {
    const { seen, ray } = await seenBy('/ray');
    assert.match(String(seen.headers['burrow-ray']), RAY);
    assert.equal(seen.headers['burrow-ray'], ray);
  });

  it('visitor-sent Burrow-* headers never reach the origin', async () => {
    const { seen, ray } = await seenBy('/forged', {
      headers: { 'burrow-ray': 'forged', 'burrow-connecting-ip': '1.2.3.4', 'burrow-origin-error': 'fake', 'Burrow-Anything': 'x' },
    });
    assert.deepEqual(rawValues(seen.rawHeaders, 'burrow-ray'), [ray]);
    assert.deepEqual(rawValues(seen.rawHeaders, 'burrow-connecting-ip'), ['127.0.0.1']);
    assert.deepEqual(rawValues(seen.rawHeaders, 'burrow-origin-error'), []);
    assert.deepEqual(rawValues(seen.rawHeaders, 'burrow-anything'), []);
  });

  const hopByHop: Array<{ name: string; sent: Record<string, string>; dropped: string[]; kept: Record<string, string> }> = [
    {
      name: 'Connection-listed, Keep-Alive and Proxy-Connection',
      sent: { connection: 'x-custom', 'x-custom': 'hop', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', 'x-normal': 'end-to-end' },
      dropped: ['x-custom', 'keep-alive', 'proxy-connection'],
      kept: { 'x-normal': 'end-to-end' },
    },
    {
      name: 'several Connection tokens, in any case',
      sent: { connection: 'close, X-One,x-two', 'x-one': '1', 'x-two': '2', 'x-three': '3' },
      dropped: ['x-one', 'x-two'],
      kept: { 'x-three': '3' },
    },
    {
      name: 'Proxy-Authorization, but not Authorization',
      sent: { 'proxy-authorization': 'Basic Zm9vOmJhcg==', authorization: 'Bearer end-to-end' },
      dropped: ['proxy-authorization'],
      kept: { authorization: 'Bearer end-to-end' },
    },
  ];
  for (const c of hopByHop) {
    it(`hop-by-hop headers are not forwarded: ${c.name}`, async () => {
      const { seen } = await seenBy('/hop-request', { headers: c.sent });
      for (const name of c.dropped) assert.deepEqual(rawValues(seen.rawHeaders, name), [], `${name} reached the origin`);
      for (const [name, value] of Object.entries(c.kept)) assert.equal(seen.headers[name], value, name);
      assert.ok(!/x-custom|x-one|x-two/i.test(String(seen.headers.connection ?? '')), `Connection: ${seen.headers.connection}`);
    });
  }

  it('the origin sees the visitor Host, path and query unchanged', async () => {
    const { seen } = await seenBy('/a%20b/c.html?x=1&y=%2F&z=a+b#ignored');
    assert.equal(seen.headers.host, 'app.example.test');
    assert.equal(seen.url, '/a%20b/c.html?x=1&y=%2F&z=a+b');
    assert.equal(seen.method, 'GET');
  });

  it('two Cookie headers reach the origin as one', async () => {
    const { seen } = await seenBy('/cookie', { headers: { cookie: ['a=1', 'b=2'] } });
    assert.equal(seen.headers.cookie, 'a=1; b=2');
  });
});

describe('request bodies', () => {
  it('a POST body arrives intact with its content type and length', async () => {
    const body = JSON.stringify({ message: 'héllo, wörld', list: [1, 2, 3] });
    const { seen } = await seenBy('/echo', { method: 'POST', body, headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) } });
    assert.equal(seen.method, 'POST');
    assert.equal(Buffer.from(seen.body, 'base64').toString('utf8'), body);
    assert.equal(seen.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(seen.headers['content-length'], String(Buffer.byteLength(body)));
  });

  it('a binary PUT body with every byte value arrives intact', async () => {
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
    const { seen } = await seenBy('/echo', { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(seen.method, 'PUT');
    assert.ok(Buffer.from(seen.body, 'base64').equals(body));
  });

  it('a chunked POST body (no content-length) arrives intact', async () => {
    const { Readable } = await import('node:stream');
    const parts = ['first,', 'second,', 'third'];
    const { seen } = await seenBy('/echo', { method: 'POST', body: Readable.from(parts.map((p) => Buffer.from(p))) });
    assert.equal(Buffer.from(seen.body, 'base64').toString(), parts.join(''));
  });

  it('a POST with an empty body arrives as an empty body', async () => {
    const { seen } = await seenBy('/echo', { method: 'POST', body: '', headers: { 'content-length': 0 } });
    assert.equal(seen.method, 'POST');
    assert.equal(seen.body, '');
  });
});

describe('responses', () => {
  it('multiple Set-Cookie headers stay separate', async () => {
    const response = await visit(edge.url, '/cookies');
    assert.equal(response.status, 200);
    assert.deepEqual(response.headers['set-cookie'], ['session=abc; Path=/; HttpOnly', 'theme=dark, light; Path=/', 'lang=en; Path=/']);
    assert.equal(rawValues(response.rawHeaders, 'set-cookie').length, 3);
  });

  it('status, Location and custom headers from the origin pass through', async () => {
    const response = await visit(edge.url, '/created', { method: 'POST', body: 'x' });
    assert.equal(response.status, 201);
    assert.equal(response.headers.location, '/things/1');
    assert.equal(response.headers['x-origin'], 'yes');
    assert.equal(response.headers['content-type'], 'application/json');
  });

  it('204 arrives without a body', async () => {
    const response = await visit(edge.url, '/no-content');
    assert.equal(response.status, 204);
    assert.equal(response.headers['x-origin'], 'yes');
    assert.equal(response.body.length, 0);
  });

  it('HEAD gets the headers without a body', async () => {
    const response = await visit(edge.url, '/head', { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.ok(Number(response.headers['content-length']) > 0);
    assert.equal(response.body.length, 0);
  });

  it('hop-by-hop headers from the origin do not reach the visitor', async () => {
    const response = await visit(edge.url, '/hop');
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-resp-hop'], undefined);
    assert.notEqual(response.headers['keep-alive'], 'timeout=7');
    assert.equal(response.headers['x-end-to-end'], 'kept');
  });

  const rayCases: Array<{ name: string; host: string; status: number; page: boolean }> = [
    { name: 'a proxied 200', host: 'app.example.test', status: 200, page: false },
    { name: 'the connector catch-all (http_status:418)', host: 'catchall.example.test', status: 418, page: false },
    { name: 'the 404 page for an unknown hostname', host: 'unknown.example.test', status: 404, page: true },
    { name: 'the 404 page for a hostname outside every zone', host: 'www.elsewhere.invalid', status: 404, page: true },
    { name: 'the 530 page for a tunnel with no connector', host: 'idle.example.test', status: 530, page: true },
  ];
  for (const c of rayCases) {
    it(`every response carries burrow-ray: ${c.name}`, async () => {
      const response = await visit(edge.url, '/ray-check', { host: c.host });
      assert.equal(response.status, c.status, response.text);
      const ray = String(response.headers['burrow-ray']);
      assert.match(ray, RAY);
      assert.equal(rawValues(response.rawHeaders, 'burrow-ray').length, 1, 'exactly one burrow-ray header');
      if (c.page) {
        assert.ok(response.text.includes(ray), 'the error page names the ray id');
        assert.match(String(response.headers['content-type']), /^text\/html/);
      }
    });
  }

  it('a request without a Host header gets a 400 page with a ray', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(edge.url).port), '127.0.0.1', () => socket.end('GET / HTTP/1.0\r\n\r\n'));
      const chunks: Buffer[] = [];
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.[01] 400 /);
    const ray = /burrow-ray: ([^\r\n]+)/i.exec(raw)?.[1];
    assert.match(String(ray), RAY);
    assert.ok(raw.includes(`<code>${ray}</code>`));
  });

  it('every request gets its own ray', async () => {
    const rays = new Set<string>();
    for (let i = 0; i < 20; i++) rays.add(String((await visit(edge.url, `/unique/${i}`)).headers['burrow-ray']));
    assert.equal(rays.size, 20);
  });
});
