// Origin certificate authority: mints the edge's CA, its TLS server certificate and connectors' zone certificates.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AttributedError, hostInZone, normalizeHost } from 'burrow';
import { createPrivateKey, KeyObject, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';

/** A private key (PKCS#8 PEM) and the certificate (PEM) for its public half. */
export interface CertifiedKey {
  keyPem: string;
  certPem: string;
}

// The project builds without DOM typings, so the WebCrypto types come from node's webcrypto namespace.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type EcKeyAlgorithm = webcrypto.EcKeyAlgorithm;

const DAY_MS = 24 * 60 * 60 * 1000;
const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
// Backdating absorbs small clock skew between the edge and the peers that verify its certificates.
const BACKDATE_MS = 5 * 60 * 1000;

// Pin node's webcrypto explicitly rather than relying on whichever global the library happens to detect.
const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

export async function createCertificateAuthority(opts: {
  commonName: string;
  validityDays?: number;
}): Promise<CertifiedKey> {
  const keys = await generateKeyPair();
  const { notBefore, notAfter } = validity(opts.validityDays ?? 3650);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: nameWithCommonName(opts.commonName),
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keyPem: await exportPrivateKey(keys.privateKey), certPem: toPem('CERTIFICATE', cert.rawData) };
}

export async function issueServerCertificate(
  ca: CertifiedKey,
  opts: { commonName: string; dnsNames: string[]; ipAddresses?: string[]; validityDays?: number },
): Promise<CertifiedKey> {
  const issuer = await loadIssuer(ca);
  const keys = await generateKeyPair();
  const names: x509.JsonGeneralName[] = [
    ...opts.dnsNames.map((value) => ({ type: 'dns' as const, value: value.toLowerCase() })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length === 0) throw new AttributedError('BURROW_ERR_CERT_REQUEST', 'a server certificate needs at least one DNS name or IP address');
  const cert = await signLeaf(issuer, {
    commonName: opts.commonName,
    publicKey: keys.publicKey,
    names,
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
    validityDays: opts.validityDays ?? 397,
  });
  return { keyPem: await exportPrivateKey(keys.privateKey), certPem: toPem('CERTIFICATE', cert.rawData) };
}

/**
 * A PoP's link certificate: it serves and dials PoP-to-PoP links, so it carries server and client auth, and the SAN
 * URI `urn:burrow:pop:<name>` names the PoP. It has no DNS name, so it can never pass as a zone certificate.
 */
export async function issuePopCertificate(ca: CertifiedKey, pop: string, validityDays = 397): Promise<CertifiedKey> {
  const issuer = await loadIssuer(ca);
  const keys = await generateKeyPair();
  const cert = await signLeaf(issuer, {
    commonName: `Burrow PoP ${pop}`,
    publicKey: keys.publicKey,
    names: [{ type: 'url', value: `urn:burrow:pop:${pop}` }],
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsage: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    validityDays,
  });
  return { keyPem: await exportPrivateKey(keys.privateKey), certPem: toPem('CERTIFICATE', cert.rawData) };
}

export async function createKeyAndCsr(opts: { zones: string[] }): Promise<{ keyPem: string; csrPem: string }> {
  const zones = normalizeZones(opts.zones);
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: nameWithCommonName(zones[0]!),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension(zoneNames(zones))],
  });
  return { keyPem: await exportPrivateKey(keys.privateKey), csrPem: toPem('CERTIFICATE REQUEST', csr.rawData) };
}

/** Parses a PKCS#10 request and checks its signature and key type; throws a message a user can act on. */
export async function checkCertificateRequest(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new AttributedError('BURROW_ERR_CERT_REQUEST', `certificate signing request is not a valid PKCS#10 PEM: ${errorMessage(err)}`, { cause: err });
  }
  // The signature proves the requester holds the private key for the public key we are about to certify.
  let verified = false;
  try {
    verified = await csr.verify();
  } catch (err) {
    throw new AttributedError('BURROW_ERR_CERT_REQUEST', `certificate signing request signature could not be checked: ${errorMessage(err)}`, { cause: err });
  }
  if (!verified) {
    throw new AttributedError('BURROW_ERR_CERT_REQUEST', 'certificate signing request signature does not verify; it was altered or not signed by its key');
  }
  const algorithm = csr.publicKey.algorithm as EcKeyAlgorithm;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new AttributedError('BURROW_ERR_CERT_REQUEST', `certificate signing request must carry an ECDSA P-256 key, not ${describeAlgorithm(algorithm)}`);
  }
  return csr;
}

export async function signZoneCertificate(
  ca: CertifiedKey,
  csrPem: string,
  opts: { zones: string[]; validityDays?: number; tunnelId?: string },
): Promise<{ certPem: string; serialNumber: string; notAfter: Date }> {
  const zones = normalizeZones(opts.zones);
  const csr = await checkCertificateRequest(csrPem);
  const issuer = await loadIssuer(ca);
  // Names come from the edge's own record of the account, never from the request, so a connector cannot widen its reach.
  const cert = await signLeaf(issuer, {
    commonName: zones[0]!,
    publicKey: csr.publicKey,
    names: opts.tunnelId ? [...zoneNames(zones), { type: 'url' as const, value: tunnelUri(opts.tunnelId) }] : zoneNames(zones),
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsage: x509.ExtendedKeyUsage.clientAuth,
    validityDays: opts.validityDays ?? 365,
  });
  return { certPem: toPem('CERTIFICATE', cert.rawData), serialNumber: cert.serialNumber.toUpperCase(), notAfter: cert.notAfter };
}

const TUNNEL_URI_PREFIX = 'urn:burrow:tunnel:';

/** The SAN URI that binds a certificate to one tunnel (`tunnel token`, quick tunnels). */
export function tunnelUri(tunnelId: string): string {
  return `${TUNNEL_URI_PREFIX}${tunnelId.toLowerCase()}`;
}

/**
 * What a peer certificate's subjectAltName (`DNS:example.test, DNS:*.example.test, URI:urn:burrow:tunnel:<id>`)
 * allows: the zones it covers and, for a tunnel-bound certificate, the one tunnel it may run.
 */
export function peerIdentity(subjectAltName: string | undefined): { zones: string[]; tunnelId?: string } {
  const names = (subjectAltName ?? '').split(/,\s*/).filter(Boolean);
  const zones = [...new Set(names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4).replace(/^\*\./, '').toLowerCase()))];
  const bound = names.find((n) => n.startsWith(`URI:${TUNNEL_URI_PREFIX}`));
  return bound ? { zones, tunnelId: bound.slice(4 + TUNNEL_URI_PREFIX.length) } : { zones };
}

export function zonesOfCertificate(certPem: string): string[] {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  const zones = new Set<string>();
  for (const name of san.names.items) {
    if (name.type !== 'dns') continue;
    const dns = name.value.toLowerCase();
    zones.add(dns.startsWith('*.') ? dns.slice(2) : dns);
  }
  return [...zones];
}

export function certificateInfo(certPem: string): {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
  fingerprint256: string;
} {
  const cert = new NodeX509Certificate(certPem);
  return {
    subject: cert.subject,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    // Upper-case hex matches what node's tls reports for a peer certificate, so serials compare directly.
    serialNumber: cert.serialNumber.toUpperCase(),
    fingerprint256: cert.fingerprint256,
  };
}

export function hostnameInZones(hostname: string, zones: string[]): boolean {
  return zones.some((zone) => hostInZone(hostname, zone));
}

interface Issuer {
  cert: x509.X509Certificate;
  signingKey: CryptoKey;
}

async function loadIssuer(ca: CertifiedKey): Promise<Issuer> {
  const cert = new x509.X509Certificate(ca.certPem);
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) throw new AttributedError('BURROW_ERR_CA', `issuer certificate "${cert.subject}" is not a CA certificate`);
  if (!new NodeX509Certificate(ca.certPem).checkPrivateKey(createPrivateKey(ca.keyPem))) {
    throw new AttributedError('BURROW_ERR_CA', `CA private key does not belong to the CA certificate "${cert.subject}"`);
  }
  return { cert, signingKey: await importPrivateKey(ca.keyPem) };
}

async function signLeaf(
  issuer: Issuer,
  leaf: {
    commonName: string;
    publicKey: CryptoKey | x509.PublicKey;
    names: x509.JsonGeneralName[];
    keyUsage: x509.KeyUsageFlags;
    extendedKeyUsage: x509.ExtendedKeyUsage | x509.ExtendedKeyUsage[];
    validityDays: number;
  },
): Promise<x509.X509Certificate> {
  const { notBefore, notAfter } = validity(leaf.validityDays);
  // A leaf outliving its CA would be rejected by verifiers anyway; capping it keeps the reported expiry honest.
  const cappedNotAfter = notAfter > issuer.cert.notAfter ? issuer.cert.notAfter : notAfter;
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: nameWithCommonName(leaf.commonName),
    issuer: issuer.cert.subjectName,
    notBefore,
    notAfter: cappedNotAfter,
    publicKey: leaf.publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(leaf.keyUsage, true),
      new x509.ExtendedKeyUsageExtension([leaf.extendedKeyUsage].flat()),
      new x509.SubjectAlternativeNameExtension(leaf.names),
      await x509.SubjectKeyIdentifierExtension.create(leaf.publicKey),
      await authorityKeyIdentifier(issuer.cert),
    ],
  });
}

async function authorityKeyIdentifier(caCert: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  // Reuse the CA's own SKI so chain builders can match the two byte for byte.
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey);
}

async function generateKeyPair(): Promise<CryptoKeyPair> {
  // Extractable so the private key can be written out as PKCS#8 for node's tls.
  return crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', key));
}

async function importPrivateKey(keyPem: string): Promise<CryptoKey> {
  // Going through KeyObject also accepts SEC1 ("EC PRIVATE KEY") input and normalises it to PKCS#8.
  const keyObject: KeyObject = createPrivateKey(keyPem);
  if (keyObject.asymmetricKeyType !== 'ec' || keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new AttributedError('BURROW_ERR_CA', 'CA private key must be an ECDSA P-256 key');
  }
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  return crypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}

// Written by hand rather than via the library so every PEM ends in a newline and concatenates cleanly into files.
function toPem(label: string, der: ArrayBuffer): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Clearing the top bit keeps the DER INTEGER positive; a non-zero first byte keeps it a full 16 bytes.
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return Buffer.from(bytes).toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(days) || days <= 0) throw new AttributedError('BURROW_ERR_CERT_REQUEST', `validity must be a positive number of days, got ${days}`);
  const now = Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

// JSON form avoids the library's RFC 2253 string parser, which would misread commas or plus signs in a name.
function nameWithCommonName(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }];
}

function normalizeZones(zones: string[]): string[] {
  const out = [...new Set(zones.map(normalizeHost).filter((z) => z !== ''))];
  if (out.length === 0) throw new AttributedError('BURROW_ERR_CERT_REQUEST', 'at least one zone is required');
  for (const zone of out) {
    if (zone.startsWith('*.') || zone.includes('*')) {
      throw new AttributedError('BURROW_ERR_CERT_REQUEST', `zone "${zone}" must be a plain domain; the wildcard is added automatically`);
    }
  }
  return out;
}

function zoneNames(zones: string[]): x509.JsonGeneralName[] {
  return zones.flatMap((zone) => [
    { type: 'dns' as const, value: zone },
    { type: 'dns' as const, value: `*.${zone}` },
  ]);
}

function describeAlgorithm(algorithm: EcKeyAlgorithm): string {
  return algorithm.namedCurve ? `${algorithm.name} ${algorithm.namedCurve}` : algorithm.name;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
