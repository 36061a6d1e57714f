// Pending logins: codes, the poll token, expiry and the per-client cap, on a fake clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeCode, PendingLogins, TooManyLoginRequests } from '../../../plugins/login-page/pending.ts';
import type { LoginResponse } from '../../../plugins/origin-ca/service.ts';

const login: LoginResponse = { certificate: 'c', ca: 'ca', zones: ['example.test'], edge: { api: 'http://a', tunnel: 't:1' }, apiToken: 'tok' };

function store(opts: Partial<{ maxPerClient: number; maxTotal: number }> = {}) {
  let now = 1_000_000;
  const pending = new PendingLogins({ ttlMs: 600_000, maxPerClient: opts.maxPerClient ?? 5, maxTotal: opts.maxTotal ?? 100, now: () => now });
  return { pending, advance: (ms: number) => void (now += ms) };
}

const input = (requestedBy = '127.0.0.1') => ({ csrPem: 'csr', zones: ['example.test'], apiHost: 'edge:7845', requestedBy });

describe('PendingLogins', () => {
  it('issues a short readable code and a long secret poll token', () => {
    const { pending } = store();
    const request = pending.create(input());
    assert.match(request.code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.ok(request.pollToken.length >= 40);
    assert.equal(pending.byOperatorCode(request.code.toLowerCase().replace('-', '')), request, 'case and dash do not matter');
    assert.equal(pending.poll(request.code), undefined, 'the code is not a poll token');
  });

  it('hands an approved answer out once, then forgets the request', () => {
    const { pending } = store();
    const request = pending.create(input());
    assert.equal(pending.poll(request.pollToken)?.status, 'pending');
    pending.approve(request, login);
    const answered = pending.poll(request.pollToken);
    assert.equal(answered?.status, 'approved');
    assert.deepEqual(answered?.login, login);
    assert.equal(pending.poll(request.pollToken), undefined);
    assert.equal(pending.byOperatorCode(request.code), undefined);
  });

  it('cannot be answered twice', () => {
    const { pending } = store();
    const request = pending.create(input());
    pending.deny(request);
    assert.throws(() => pending.approve(request, login), (error: Error & { code?: string }) => error.code === 'BURROW_ERR_LOGIN_ANSWERED' && /already denied/.test(error.message));
  });

  it('expires after its time to live', () => {
    const { pending, advance } = store();
    const request = pending.create(input());
    advance(599_999);
    assert.equal(pending.poll(request.pollToken)?.status, 'pending');
    advance(1);
    assert.equal(pending.byOperatorCode(request.code)?.status, 'expired');
    assert.equal(pending.poll(request.pollToken)?.status, 'expired');
    assert.equal(pending.poll(request.pollToken), undefined);
  });

  it('caps waiting requests per client address and in total', () => {
    const { pending, advance } = store({ maxPerClient: 2, maxTotal: 3 });
    pending.create(input('10.0.0.1'));
    pending.create(input('10.0.0.1'));
    assert.throws(() => pending.create(input('10.0.0.1')), TooManyLoginRequests);
    pending.create(input('10.0.0.2'));
    assert.throws(() => pending.create(input('10.0.0.3')), /too many logins are waiting/);
    advance(600_000);
    assert.doesNotThrow(() => pending.create(input('10.0.0.1')), 'expired requests free their slots');
  });

  it('normalizeCode leaves anything that is not 8 letters alone', () => {
    assert.equal(normalizeCode('bcdf-ghjk'), 'BCDF-GHJK');
    assert.equal(normalizeCode('BCDFGHJK'), 'BCDF-GHJK');
    assert.equal(normalizeCode('abc'), 'abc');
  });
});
