// The visitor Host grammar and the edge.visitorTimeouts keys, as tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { visitorHostname } from '../../core/transport/host.ts';
import { edgeSchema } from '../../config/schema.ts';

describe('visitorHostname', () => {
  const cases: Array<[string | undefined, string]> = [
    ['a.example.test', 'a.example.test'],
    ['A.Example.TEST', 'a.example.test'],
    ['a.example.test.', 'a.example.test'],
    ['a.example.test.:8080', 'a.example.test'],
    ['a.example.test:', 'a.example.test'],
    ['xn--bcher-kva.example.test', 'xn--bcher-kva.example.test'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['[::1]:80', '::1'],
    ['[::1]', '::1'],
    ['under_score.example.test', 'under_score.example.test'],
    [undefined, ''],
    ['', ''],
    [':80', ''],
    ['.', ''],
    ['..', ''],
    ['user@a.example.test', ''],
    ['a.example.test@b.example.test', ''],
    ['a.example.test b.example.test', ''],
    ['a.example.test,b.example.test', ''],
    ['bücher.example.test', ''],
    ['*.example.test', ''],
    ['::1', ''],
    ['[::1', ''],
    ['a.example.test:80:80', ''],
    ['a.example.test:123456', ''],
    ['a.example.test/path', ''],
    ['a.example.test\\x', ''],
    [`${'a'.repeat(300)}.test`, ''],
  ];
  for (const [host, expected] of cases) {
    it(`${JSON.stringify(host)} -> ${JSON.stringify(expected)}`, () => assert.equal(visitorHostname(host), expected));
  }
});

describe('edge.visitorTimeouts', () => {
  it('defaults to 10s for heads, 300s for whole requests and 65s idle', () => {
    assert.deepEqual(edgeSchema.parse({}).visitorTimeouts, { headers: 10_000, request: 300_000, idle: 65_000 });
  });

  it('takes Go-style durations', () => {
    assert.deepEqual(edgeSchema.parse({ visitorTimeouts: { headers: '1s', request: '1m', idle: '500ms' } }).visitorTimeouts, { headers: 1_000, request: 60_000, idle: 500 });
  });

  it('refuses a headers timeout longer than the request timeout, or none', () => {
    assert.throws(() => edgeSchema.parse({ visitorTimeouts: { headers: '2m', request: '1m' } }), /visitorTimeouts.headers must not be longer than visitorTimeouts.request/);
    assert.throws(() => edgeSchema.parse({ visitorTimeouts: { headers: '0s' } }), /visitorTimeouts.headers must be more than 0/);
    assert.equal(edgeSchema.parse({ visitorTimeouts: { headers: '2m', request: 0 } }).visitorTimeouts.request, 0);
  });

  it('refuses unknown keys and bad durations', () => {
    assert.throws(() => edgeSchema.parse({ visitorTimeouts: { header: '1s' } }));
    assert.throws(() => edgeSchema.parse({ visitorTimeouts: { idle: 'soon' } }), /not a valid duration/);
  });
});
