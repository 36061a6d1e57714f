// Tests for the connector's cert.pem: encoding, decoding, clear errors and safe writes.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { createCertificateAuthority, createKeyAndCsr, signZoneCertificate } from '../../../plugins/origin-ca/ca.ts';
import {
  decodeOriginCert,
  encodeOriginCert,
  OriginCertError,
  readOriginCert,
  writeOriginCert,
  type OriginCert,
} from '../../../plugins/origin-ca/cert-file.ts';

const FILE = '/home/someone/.burrow/cert.pem';

let sample: OriginCert;

before(async () => {
  const ca = await createCertificateAuthority({ commonName: 'Burrow Edge CA' });
  const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
  const { certPem } = await signZoneCertificate(ca, csrPem, { zones: ['example.test'] });
  sample = {
    keyPem,
    certPem,
    caPem: ca.certPem,
    zones: ['example.test'],
    edge: { api: 'http://127.0.0.1:8080', tunnel: '127.0.0.1:7844' },
    apiToken: 'tok_0123456789abcdef',
  };
});

function labels(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map((m) => m[1]!);
}

// Drops the nth block (0-based) carrying the given label, leaving everything else as written.
function withoutBlock(text: string, label: string, nth = 0): string {
  let seen = -1;
  return text.replace(new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----\\n`, 'g'), (block) =>
    ++seen === nth ? '' : block,
  );
}

function replaceBlockBody(text: string, label: string, nth: number, body: string): string {
  let seen = -1;
  return text.replace(new RegExp(`(-----BEGIN ${label}-----\\n)[\\s\\S]*?(-----END ${label}-----)`, 'g'), (block, head, tail) =>
    ++seen === nth ? `${head}${body}\n${tail}` : block,
  );
}

function assertOriginCertError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OriginCertError, `expected OriginCertError, got ${String(err)}`);
    assert.equal(err.file, FILE);
    assert.ok(err.message.includes(FILE), `message should name the file: ${err.message}`);
    assert.match(err.message, message);
    assert.match(err.hint, /burrow login --edge URL/);
    assert.ok(err.message.includes(err.hint), 'message should carry the hint');
    return true;
  });
}

describe('encodeOriginCert / decodeOriginCert', () => {
  it('writes the blocks in the documented order', () => {
    assert.deepEqual(labels(encodeOriginCert(sample)), ['PRIVATE KEY', 'CERTIFICATE', 'CERTIFICATE', 'BURROW EDGE']);
  });

  it('carries the edge details as base64 JSON in the BURROW EDGE block', () => {
    const text = encodeOriginCert(sample);
    const body = /-----BEGIN BURROW EDGE-----\n([\s\S]*?)-----END BURROW EDGE-----/.exec(text)![1]!.replace(/\s+/g, '');
    assert.deepEqual(JSON.parse(Buffer.from(body, 'base64').toString('utf8')), {
      api: 'http://127.0.0.1:8080',
      tunnel: '127.0.0.1:7844',
      apiToken: 'tok_0123456789abcdef',
      zones: ['example.test'],
    });
  });

  it('round-trips', () => {
    assert.deepEqual(decodeOriginCert(encodeOriginCert(sample), FILE), sample);
  });

  it('tolerates CRLF line endings and surrounding text', () => {
    const text = `# written by burrow login\r\n${encodeOriginCert(sample).replace(/\n/g, '\r\n')}\r\n`;
    assert.deepEqual(decodeOriginCert(text, FILE), sample);
  });

  it('decoded key and certificates load straight into node tls', () => {
    const decoded = decodeOriginCert(encodeOriginCert(sample), FILE);
    assert.doesNotThrow(() => tls.createSecureContext({ key: decoded.keyPem, cert: decoded.certPem, ca: decoded.caPem }));
  });

  const missing: Array<{ name: string; edit: (text: string) => string; message: RegExp }> = [
    { name: 'private key', edit: (t) => withoutBlock(t, 'PRIVATE KEY'), message: /PRIVATE KEY block .* is missing/ },
    { name: 'both certificates', edit: (t) => withoutBlock(withoutBlock(t, 'CERTIFICATE'), 'CERTIFICATE'), message: /CERTIFICATE blocks .* are missing/ },
    { name: 'edge CA certificate', edit: (t) => withoutBlock(t, 'CERTIFICATE', 1), message: /second CERTIFICATE block \(the edge CA\) is missing/ },
    { name: 'BURROW EDGE block', edit: (t) => withoutBlock(t, 'BURROW EDGE'), message: /BURROW EDGE block .* is missing/ },
    { name: 'everything', edit: () => 'not a pem file at all\n', message: /PRIVATE KEY block .* is missing/ },
  ];
  for (const { name, edit, message } of missing) {
    it(`says which block is missing: ${name}`, () => {
      assertOriginCertError(() => decodeOriginCert(edit(encodeOriginCert(sample)), FILE), message);
    });
  }

  const edgeJson = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
  const broken: Array<{ name: string; edit: (text: string) => string; message: RegExp }> = [
    { name: 'private key', edit: (t) => replaceBlockBody(t, 'PRIVATE KEY', 0, 'AAAA'), message: /PRIVATE KEY block is broken/ },
    { name: 'zone certificate', edit: (t) => replaceBlockBody(t, 'CERTIFICATE', 0, 'AAAA'), message: /first CERTIFICATE block \(the zone certificate\) is broken/ },
    { name: 'edge CA', edit: (t) => replaceBlockBody(t, 'CERTIFICATE', 1, 'AAAA'), message: /second CERTIFICATE block \(the edge CA\) is broken/ },
    { name: 'edge block not base64', edit: (t) => replaceBlockBody(t, 'BURROW EDGE', 0, '!!!!'), message: /BURROW EDGE block is broken \(not base64\)/ },
    { name: 'edge block not JSON', edit: (t) => replaceBlockBody(t, 'BURROW EDGE', 0, Buffer.from('{nope').toString('base64')), message: /BURROW EDGE block is broken \(not JSON\)/ },
    {
      name: 'edge block without apiToken',
      edit: (t) => replaceBlockBody(t, 'BURROW EDGE', 0, edgeJson({ api: 'http://x:1', tunnel: 'x:2', zones: ['a.test'] })),
      message: /"apiToken" must be a non-empty string/,
    },
    {
      name: 'edge block with empty zones',
      edit: (t) => replaceBlockBody(t, 'BURROW EDGE', 0, edgeJson({ api: 'http://x:1', tunnel: 'x:2', apiToken: 't', zones: [] })),
      message: /"zones" must be a non-empty list/,
    },
  ];
  for (const { name, edit, message } of broken) {
    it(`says which block is broken: ${name}`, () => {
      assertOriginCertError(() => decodeOriginCert(edit(encodeOriginCert(sample)), FILE), message);
    });
  }

  it('refuses to encode a field that is not the PEM block it should be', () => {
    assert.throws(() => encodeOriginCert({ ...sample, keyPem: sample.certPem }), (error: Error & { code?: string }) => error.code === 'BURROW_ERR_ORIGIN_CERT' && /keyPem must hold exactly one PRIVATE KEY/.test(error.message));
    assert.throws(() => encodeOriginCert({ ...sample, caPem: sample.caPem + sample.certPem }), /caPem must hold exactly one CERTIFICATE/);
  });
});

describe('readOriginCert / writeOriginCert', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'burrow-cert-file-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes into a new 0700 folder with mode 0600 and reads back the same value', async () => {
    const file = join(dir, 'nested', 'deeper', 'cert.pem');
    await writeOriginCert(file, sample);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'nested', 'deeper'))).mode & 0o777, 0o700);
    assert.deepEqual(await readOriginCert(file), sample);
    assert.equal(await readFile(file, 'utf8'), encodeOriginCert(sample));
  });

  it('replaces an existing file, tightening its mode and leaving no temporary files', async () => {
    const file = join(dir, 'replace', 'cert.pem');
    await writeOriginCert(file, sample);
    await writeFile(file, 'old contents', { mode: 0o644 });
    const updated = { ...sample, apiToken: 'tok_rotated', zones: ['example.test', 'other.test'] };
    await writeOriginCert(file, updated);
    assert.deepEqual(await readOriginCert(file), updated);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(dir, 'replace')), ['cert.pem']);
  });

  it('tells the user to log in when the file does not exist', async () => {
    const file = join(dir, 'absent', 'cert.pem');
    await assert.rejects(readOriginCert(file), (err: unknown) => {
      assert.ok(err instanceof OriginCertError);
      assert.equal(err.file, file);
      assert.ok(err.message.includes(file));
      assert.match(err.message, /not found/);
      assert.match(err.message, /run `burrow login --edge URL`/);
      return true;
    });
  });

  it('reports a damaged file with its path', async () => {
    const file = join(dir, 'damaged.pem');
    await writeFile(file, withoutBlock(encodeOriginCert(sample), 'BURROW EDGE'));
    await assert.rejects(readOriginCert(file), (err: unknown) => {
      assert.ok(err instanceof OriginCertError);
      assert.equal(err.file, file);
      assert.match(err.message, /BURROW EDGE block .* is missing/);
      return true;
    });
  });
});
