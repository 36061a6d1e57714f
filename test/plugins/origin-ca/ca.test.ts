// Tests for the origin CA: certificate contents, mutual TLS with issued certificates, and the on-disk CA store.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import {
  certificateInfo,
  createCertificateAuthority,
  createKeyAndCsr,
  hostnameInZones,
  issueServerCertificate,
  signZoneCertificate,
  zonesOfCertificate,
  type CertifiedKey,
} from '../../../plugins/origin-ca/ca.ts';
import { loadOrCreateServerCertificate } from '../../../plugins/origin-ca/ca-store.ts';
import { loadOrCreateCa as loadCaFiles } from '../../../plugins/trust-files/ca-files.ts';

/** The CA as the edge keeps it: trust-files in <dataDir>/ca, minted by origin-ca on first use. */
const loadOrCreateCa = (dataDir: string, opts: { commonName?: string } = {}) =>
  loadCaFiles(join(dataDir, 'ca'), () => createCertificateAuthority({ commonName: opts.commonName ?? 'Burrow Edge CA' }));

const DAY_MS = 24 * 60 * 60 * 1000;

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function derToPem(label: string, der: Buffer): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

describe('origin CA certificates', () => {
  let ca: CertifiedKey;

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'Burrow Test CA' });
  });

  it('creates a self-signed P-256 CA with a PKCS#8 key', async () => {
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, 'CN=Burrow Test CA');
    assert.ok(cert.checkIssued(cert) && cert.verify(cert.publicKey), 'CA must be self-signed');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

    const parsed = new x509.X509Certificate(ca.certPem);
    assert.equal(parsed.signatureAlgorithm.hash.name, 'SHA-256');
    const basic = parsed.getExtension(x509.BasicConstraintsExtension);
    assert.ok(basic?.ca && basic.critical);
    const usage = parsed.getExtension(x509.KeyUsagesExtension);
    assert.equal(usage?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);

    const days = (parsed.notAfter.getTime() - Date.now()) / DAY_MS;
    assert.ok(days > 3649 && days <= 3650, `default CA validity is 3650 days, got ${days}`);
  });

  it('issues a server certificate with DNS and IP names, serverAuth and the CA key id', async () => {
    const server = await issueServerCertificate(ca, {
      commonName: 'edge.example.test',
      dnsNames: ['edge.example.test', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    assert.match(server.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);
    assert.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey));
    assert.equal(cert.ca, false);
    assert.equal(cert.checkHost('edge.example.test'), 'edge.example.test');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(cert.checkIP('::1'));
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);

    const parsed = new x509.X509Certificate(server.certPem);
    const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    assert.equal(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, caSki);
    const days = (parsed.notAfter.getTime() - Date.now()) / DAY_MS;
    assert.ok(days > 396 && days <= 397, `default server validity is 397 days, got ${days}`);
  });

  it('signs a zone certificate for the given zones, ignoring the names the CSR asked for', async () => {
    const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['evil.test', 'bank.test'] });
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    assert.equal(csr.subject, 'CN=evil.test');

    const signed = await signZoneCertificate(ca, csrPem, { zones: ['Example.test', 'second.test'] });
    const cert = new X509Certificate(signed.certPem);
    assert.equal(cert.subject, 'CN=example.test');
    assert.equal(cert.subjectAltName, 'DNS:example.test, DNS:*.example.test, DNS:second.test, DNS:*.second.test');
    assert.equal(cert.checkHost('evil.test'), undefined);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), 'cert must certify the CSR key');

    const parsed = new x509.X509Certificate(signed.certPem);
    assert.equal(parsed.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
    const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    assert.equal(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, caSki);

    // 16 random bytes, top bit clear so the DER INTEGER stays positive without a padding byte.
    assert.match(signed.serialNumber, /^[0-7][0-9A-F]{31}$/);
    assert.equal(signed.serialNumber, cert.serialNumber.toUpperCase());
    assert.equal(signed.notAfter.getTime(), new Date(cert.validTo).getTime());
    const days = (signed.notAfter.getTime() - Date.now()) / DAY_MS;
    assert.ok(days > 364 && days <= 365, `default zone validity is 365 days, got ${days}`);

    const again = await signZoneCertificate(ca, csrPem, { zones: ['example.test'], validityDays: 30 });
    assert.notEqual(again.serialNumber, signed.serialNumber);
    assert.ok(Math.abs(again.notAfter.getTime() - Date.now() - 30 * DAY_MS) < 60_000);
  });

  it('rejects a CSR whose contents were altered after signing', async () => {
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const der = pemToDer(csrPem);
    const at = der.indexOf('example.test');
    assert.ok(at > 0);
    // Same length, so the request still parses and only the signature check can catch it.
    der.write('examplf', at, 'latin1');
    const tampered = derToPem('CERTIFICATE REQUEST', der);
    assert.ok(new x509.Pkcs10CertificateRequest(tampered), 'tampered CSR must still parse');
    await assert.rejects(signZoneCertificate(ca, tampered, { zones: ['example.test'] }), /signature does not verify/);
  });

  it('rejects input that is not a CSR at all', async () => {
    await assert.rejects(
      signZoneCertificate(ca, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', {
        zones: ['example.test'],
      }),
      /not a valid PKCS#10/,
    );
  });

  it('refuses to sign without zones', async () => {
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    await assert.rejects(signZoneCertificate(ca, csrPem, { zones: [] }), /at least one zone/);
  });

  it('names a refused request BURROW_ERR_CERT_REQUEST and an issuer that is not a CA BURROW_ERR_CA', async () => {
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const refused = (pattern: RegExp) => (error: Error & { code?: string }) => error.code === 'BURROW_ERR_CERT_REQUEST' && pattern.test(error.message);
    await assert.rejects(signZoneCertificate(ca, 'not a request', { zones: ['example.test'] }), refused(/not a valid PKCS#10/));
    await assert.rejects(signZoneCertificate(ca, csrPem, { zones: [] }), refused(/^at least one zone is required$/));
    await assert.rejects(signZoneCertificate(ca, csrPem, { zones: ['*.example.test'] }), refused(/must be a plain domain/));
    await assert.rejects(signZoneCertificate(ca, csrPem, { zones: ['example.test'], validityDays: 0 }), refused(/^validity must be a positive number of days, got 0$/));
    await assert.rejects(issueServerCertificate(ca, { commonName: 'nobody', dnsNames: [] }), refused(/at least one DNS name or IP address/));
    const leaf = await issueServerCertificate(ca, { commonName: 'edge', dnsNames: ['edge.example.test'] });
    await assert.rejects(
      signZoneCertificate(leaf, csrPem, { zones: ['example.test'] }),
      (error: Error & { code?: string }) => error.code === 'BURROW_ERR_CA' && /is not a CA certificate/.test(error.message),
    );
  });

  const zoneCases: Array<{ zones: string[]; expected: string[] }> = [
    { zones: ['example.test'], expected: ['example.test'] },
    { zones: ['a.test', 'b.test', 'c.test'], expected: ['a.test', 'b.test', 'c.test'] },
    { zones: ['Example.TEST', 'example.test.', 'other.test'], expected: ['example.test', 'other.test'] },
    { zones: ['sub.example.test'], expected: ['sub.example.test'] },
  ];
  for (const { zones, expected } of zoneCases) {
    it(`zonesOfCertificate round-trips ${JSON.stringify(zones)}`, async () => {
      const { csrPem } = await createKeyAndCsr({ zones });
      const { certPem } = await signZoneCertificate(ca, csrPem, { zones });
      assert.deepEqual(zonesOfCertificate(certPem), expected);
    });
  }

  it('zonesOfCertificate lower-cases and strips wildcards from server certificates too', async () => {
    const server = await issueServerCertificate(ca, { commonName: 'x', dnsNames: ['*.Edge.test', 'edge.test', 'LB.test'] });
    assert.deepEqual(zonesOfCertificate(server.certPem), ['edge.test', 'lb.test']);
  });

  it('certificateInfo reports subject, validity, serial and fingerprint', async () => {
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const signed = await signZoneCertificate(ca, csrPem, { zones: ['example.test'] });
    const info = certificateInfo(signed.certPem);
    assert.equal(info.subject, 'CN=example.test');
    assert.equal(info.serialNumber, signed.serialNumber);
    assert.equal(info.notAfter.getTime(), signed.notAfter.getTime());
    assert.ok(info.notBefore.getTime() <= Date.now());
    assert.equal(info.fingerprint256, new X509Certificate(signed.certPem).fingerprint256);
    assert.match(info.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});

describe('hostnameInZones', () => {
  const cases: Array<[hostname: string, zones: string[], expected: boolean]> = [
    ['app.example.test', ['example.test'], true],
    ['example.test', ['example.test'], true],
    ['deep.sub.example.test', ['example.test'], true],
    ['evil-example.test', ['example.test'], false],
    ['example.test.evil', ['example.test'], false],
    ['xexample.test', ['example.test'], false],
    ['APP.Example.Test', ['example.test'], true],
    ['app.example.test', ['EXAMPLE.TEST'], true],
    ['app.example.test.', ['example.test'], true],
    ['app.example.test', ['example.test.'], true],
    ['app.other.test', ['example.test', 'other.test'], true],
    ['app.example.test', [], false],
    ['', ['example.test'], false],
    ['test', ['example.test'], false],
    ['example.test', [''], false],
  ];
  for (const [hostname, zones, expected] of cases) {
    it(`${JSON.stringify(hostname)} in ${JSON.stringify(zones)} -> ${expected}`, () => {
      assert.equal(hostnameInZones(hostname, zones), expected);
    });
  }
});

describe('mutual TLS with issued certificates', () => {
  let ca: CertifiedKey;
  let server: tls.Server;
  let port: number;
  const clientErrors: string[] = [];
  const accepted: string[] = [];
  const clients: Record<string, { key?: string; cert?: string }> = {};
  let expectedSerial = '';

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'Burrow Edge CA' });
    const serverCert = await issueServerCertificate(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });

    // A connector: its key never leaves it, only the CSR travels to the edge.
    const connector = await createKeyAndCsr({ zones: ['example.test'] });
    const zone = await signZoneCertificate(ca, connector.csrPem, { zones: ['example.test'] });
    clients['zone certificate from this CA'] = { key: connector.keyPem, cert: zone.certPem };
    expectedSerial = zone.serialNumber;

    const otherCa = await createCertificateAuthority({ commonName: 'Burrow Edge CA' });
    const stranger = await createKeyAndCsr({ zones: ['example.test'] });
    const strangerCert = await signZoneCertificate(otherCa, stranger.csrPem, { zones: ['example.test'] });
    clients['zone certificate from a different CA'] = { key: stranger.keyPem, cert: strangerCert.certPem };

    clients['no certificate'] = {};

    // Same CA, but EKU serverAuth only: the zone certificates' clientAuth EKU is what makes them client certs.
    const notAClient = await issueServerCertificate(ca, { commonName: 'x', dnsNames: ['example.test'] });
    clients['server-only certificate from this CA'] = { key: notAClient.keyPem, cert: notAClient.certPem };

    server = tls.createServer(
      {
        key: serverCert.keyPem,
        cert: serverCert.certPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      },
      (socket) => {
        const peer = socket.getPeerCertificate();
        accepted.push(peer.subject.CN);
        socket.end(`hello ${peer.subject.CN} ${peer.serialNumber}`);
      },
    );
    server.on('tlsClientError', (err) => clientErrors.push(err.message));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // Resolves with whatever the server sent before the connection ended, or the error that ended it.
  function talk(client: { key?: string; cert?: string }, servername: string): Promise<{ data: string; error?: string }> {
    return new Promise((resolve) => {
      let data = '';
      let settled = false;
      const done = (error?: string) => {
        if (settled) return;
        settled = true;
        resolve({ data, error });
      };
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername,
        ca: ca.certPem,
        key: client.key,
        cert: client.cert,
        minVersion: 'TLSv1.3',
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('error', (err) => done(err.message));
      socket.on('close', () => done());
    });
  }

  it('accepts a connector presenting a zone certificate signed from its own CSR', async () => {
    const { data, error } = await talk(clients['zone certificate from this CA']!, 'localhost');
    assert.equal(error, undefined);
    assert.equal(data, `hello example.test ${expectedSerial}`);
    assert.deepEqual(accepted, ['example.test']);
  });

  for (const name of ['zone certificate from a different CA', 'no certificate', 'server-only certificate from this CA']) {
    it(`refuses a client with ${name}`, async () => {
      const errorsBefore = clientErrors.length;
      const acceptedBefore = accepted.length;
      const { data } = await talk(clients[name]!, 'localhost');
      // In TLS 1.3 the client finishes its side of the handshake before the server judges its certificate,
      // so refusal shows up as the server dropping the connection rather than always as a client error.
      assert.equal(data, '', 'server must not talk to the client');
      await waitFor(() => clientErrors.length > errorsBefore);
      assert.equal(accepted.length, acceptedBefore, 'server must not accept the connection');
    });
  }

  it('the server certificate is refused by a client that does not trust the CA', async () => {
    const other = await createCertificateAuthority({ commonName: 'Someone Else' });
    const result = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: other.certPem });
      socket.on('secureConnect', () => resolve('connected'));
      socket.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    });
    // The server sends its CA along with its certificate, so the client sees an untrusted root in the chain.
    assert.equal(result, 'SELF_SIGNED_CERT_IN_CHAIN');
  });
});

describe('CA store', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'burrow-ca-'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates the CA once and returns the same one afterwards', async () => {
    const first = await loadOrCreateCa(dataDir, { commonName: 'Stable CA' });
    const second = await loadOrCreateCa(dataDir);
    assert.deepEqual(second, first);
    assert.equal(new X509Certificate(second.certPem).subject, 'CN=Stable CA');
    assert.equal(await readFile(join(dataDir, 'ca', 'ca.key'), 'utf8'), first.keyPem);
    assert.equal(await readFile(join(dataDir, 'ca', 'ca.pem'), 'utf8'), first.certPem);

    assert.equal((await stat(join(dataDir, 'ca', 'ca.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, 'ca'))).mode & 0o777, 0o700);
  });

  it('a stored CA can still issue certificates that chain to it', async () => {
    const ca = await loadOrCreateCa(dataDir);
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const { certPem } = await signZoneCertificate(ca, csrPem, { zones: ['example.test'] });
    assert.ok(new X509Certificate(certPem).verify(new X509Certificate(ca.certPem).publicKey));
  });

  const brokenCases: Array<{ name: string; file: 'ca.key' | 'ca.pem'; damage: (path: string) => Promise<void>; message: RegExp }> = [
    { name: 'key missing', file: 'ca.key', damage: (p) => unlink(p), message: /key is missing/ },
    { name: 'certificate missing', file: 'ca.pem', damage: (p) => unlink(p), message: /certificate is missing/ },
    { name: 'key unparsable', file: 'ca.key', damage: (p) => writeFile(p, 'garbage'), message: /could not parse the CA key/ },
    { name: 'certificate unparsable', file: 'ca.pem', damage: (p) => writeFile(p, 'garbage'), message: /could not parse the CA certificate/ },
  ];
  for (const { name, file, damage, message } of brokenCases) {
    it(`explains how to recover when the ${name}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'burrow-ca-broken-'));
      try {
        await loadOrCreateCa(dir);
        const path = join(dir, 'ca', file);
        await damage(path);
        await assert.rejects(loadOrCreateCa(dir), (err: Error) => {
          assert.match(err.message, message);
          assert.ok(err.message.includes(path), `message should name ${path}: ${err.message}`);
          assert.match(err.message, /delete the folder .* to create a new CA/);
          assert.match(err.message, /invalidates every certificate/);
          return true;
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('rejects a CA key that belongs to a different certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-ca-mismatch-'));
    try {
      await loadOrCreateCa(dir);
      const other = await createCertificateAuthority({ commonName: 'Other' });
      await writeFile(join(dir, 'ca', 'ca.key'), other.keyPem);
      await assert.rejects(loadOrCreateCa(dir), /does not belong to the certificate/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reuses the edge server certificate while it still fits, and reissues when it does not', async () => {
    const ca = await loadOrCreateCa(dataDir);
    const names = { dnsNames: ['edge.example.test'], ipAddresses: ['127.0.0.1'] };
    const first = await loadOrCreateServerCertificate(dataDir, ca, names);
    assert.equal((await stat(join(dataDir, 'ca', 'edge.key'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(dataDir, 'ca', 'edge.pem'), 'utf8'), first.certPem);

    assert.deepEqual(await loadOrCreateServerCertificate(dataDir, ca, names), first, 'same names reuse the certificate');
    assert.deepEqual(
      await loadOrCreateServerCertificate(dataDir, ca, { dnsNames: ['EDGE.example.test'], ipAddresses: [] }),
      first,
      'a subset of the names reuses the certificate',
    );

    const wider = await loadOrCreateServerCertificate(dataDir, ca, { dnsNames: ['edge.example.test', 'other.test'], ipAddresses: ['127.0.0.1'] });
    assert.notEqual(wider.certPem, first.certPem, 'a new name needs a new certificate');
    assert.ok(new X509Certificate(wider.certPem).checkHost('other.test'));

    const otherCa = await createCertificateAuthority({ commonName: 'Rotated CA' });
    const rotated = await loadOrCreateServerCertificate(dataDir, otherCa, names);
    assert.ok(new X509Certificate(rotated.certPem).checkIssued(new X509Certificate(otherCa.certPem)), 'a new CA needs a new certificate');
  });

  it('reissues an edge server certificate that is within 30 days of expiry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-ca-expiry-'));
    try {
      const ca = await loadOrCreateCa(dir);
      const names = { dnsNames: ['edge.example.test'], ipAddresses: [] };
      const expiring = await issueServerCertificate(ca, { commonName: 'edge', ...names, validityDays: 29 });
      await writeFile(join(dir, 'ca', 'edge.key'), expiring.keyPem, { mode: 0o600 });
      await writeFile(join(dir, 'ca', 'edge.pem'), expiring.certPem);
      const renewed = await loadOrCreateServerCertificate(dir, ca, names);
      assert.notEqual(renewed.certPem, expiring.certPem);
      assert.ok(certificateInfo(renewed.certPem).notAfter.getTime() - Date.now() > 300 * DAY_MS);

      const healthy = await issueServerCertificate(ca, { commonName: 'edge', ...names, validityDays: 31 });
      await writeFile(join(dir, 'ca', 'edge.key'), healthy.keyPem);
      await writeFile(join(dir, 'ca', 'edge.pem'), healthy.certPem);
      assert.equal((await loadOrCreateServerCertificate(dir, ca, names)).certPem, healthy.certPem);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
