// Tunnel-bound certificates, tunnel tokens and the expiry warning.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createCertificateAuthority, createKeyAndCsr, peerIdentity, signZoneCertificate, tunnelUri, type CertifiedKey } from '../../../plugins/origin-ca/ca.ts';
import { checkCertificateExpiry } from '../../../plugins/origin-ca/expiry.ts';
import { decodeTunnelToken, encodeTunnelToken, type TunnelToken } from '../../../plugins/origin-ca/tunnel-token.ts';
import { X509Certificate } from 'node:crypto';

const DAY_MS = 24 * 60 * 60 * 1000;
const TUNNEL = '6ff42ae2-765d-4adf-8112-31c55c1551ef';
let ca: CertifiedKey;

before(async () => {
  ca = await createCertificateAuthority({ commonName: 'Test CA' });
});

describe('tunnel-bound certificates', () => {
  it('carry the zone names plus a SAN URI naming the tunnel, which peerIdentity reads back', async () => {
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const signed = await signZoneCertificate(ca, csrPem, { zones: ['example.test'], tunnelId: TUNNEL });
    const san = new X509Certificate(signed.certPem).subjectAltName!;
    assert.match(san, new RegExp(`URI:${tunnelUri(TUNNEL)}`));
    assert.deepEqual(peerIdentity(san), { zones: ['example.test'], tunnelId: TUNNEL });
  });

  it('a plain zone certificate is bound to no tunnel', () => {
    assert.deepEqual(peerIdentity('DNS:example.test, DNS:*.example.test'), { zones: ['example.test'] });
    assert.deepEqual(peerIdentity(undefined), { zones: [] });
  });
});

describe('tunnel tokens', () => {
  let token: TunnelToken;
  before(async () => {
    const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const signed = await signZoneCertificate(ca, csrPem, { zones: ['example.test'], tunnelId: TUNNEL });
    token = { zone: 'example.test', tunnelId: TUNNEL, tunnelName: 'app', secret: Buffer.alloc(32, 1).toString('base64'), edge: '127.0.0.1:7844', caPem: ca.certPem, certPem: signed.certPem, keyPem };
  });

  it('round-trip as one base64 string of JSON with cloudflared-style keys', () => {
    const text = encodeTunnelToken(token);
    assert.match(text, /^[A-Za-z0-9+/]+={0,2}$/);
    const wire = JSON.parse(Buffer.from(text, 'base64').toString()) as Record<string, unknown>;
    assert.equal(wire.a, 'example.test');
    assert.equal(wire.t, TUNNEL);
    assert.equal(wire.s, token.secret);
    assert.deepEqual(decodeTunnelToken(`  ${text}\n`), token);
  });

  const broken: Array<[string, string, RegExp]> = [
    ['not base64', 'not a token!', /not base64/],
    ['base64 of something else', Buffer.from('hello').toString('base64'), /not base64 JSON/],
    ['a cloudflared token', Buffer.from(JSON.stringify({ a: 'x', t: 'y', s: 'z' })).toString('base64'), /unknown token version/],
  ];
  for (const [name, text, message] of broken) {
    it(`refuses ${name} with a fix`, () => {
      assert.throws(() => decodeTunnelToken(text), (error: Error) => message.test(error.message) && /--token/.test(error.message) && /Fix:/.test(error.message));
    });
  }

  it('refuses a token whose key was damaged', () => {
    const wire = JSON.parse(Buffer.from(encodeTunnelToken(token), 'base64').toString()) as Record<string, unknown>;
    wire.k = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    assert.throws(() => decodeTunnelToken(Buffer.from(JSON.stringify(wire)).toString('base64')), /do not parse/);
  });
});

describe('checkCertificateExpiry', () => {
  let certPem: string;
  let notAfter: number;
  before(async () => {
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const signed = await signZoneCertificate(ca, csrPem, { zones: ['example.test'], validityDays: 20 });
    certPem = signed.certPem;
    notAfter = signed.notAfter.getTime();
  });
  const opts = (now: number) => ({ source: 'cert.pem', warnDays: 30, renewHint: 'renew it with `burrow login --renew`', now: new Date(now) });

  it('warns within the warning window, naming the file, the date and the fix', () => {
    const warning = checkCertificateExpiry(certPem, opts(notAfter - 12 * DAY_MS - 1000));
    assert.match(warning!, /^cert\.pem: the client certificate expires on \S+ \(in 12 days\); renew it with `burrow login --renew`$/);
    assert.match(checkCertificateExpiry(certPem, opts(notAfter - 1000))!, /in less than a day/);
  });

  it('is quiet before the window', () => {
    assert.equal(checkCertificateExpiry(certPem, { ...opts(notAfter - 31 * DAY_MS), warnDays: 30 }), undefined);
  });

  it('refuses an expired certificate', () => {
    assert.throws(() => checkCertificateExpiry(certPem, opts(notAfter + 1000)), /cert\.pem: the client certificate expired on .*burrow login --renew/);
  });
});
