// Keeps the edge's CA and TLS server certificate in its data directory so they survive restarts.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { ensurePrivateDir, readIfExists, writeFileAtomic } from 'burrow';
import { issueServerCertificate, type CertifiedKey } from './ca.ts';

const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

export async function loadOrCreateServerCertificate(
  dataDir: string,
  ca: CertifiedKey,
  opts: { dnsNames: string[]; ipAddresses: string[] },
): Promise<CertifiedKey> {
  const dir = await ensureCaDir(dataDir);
  const keyFile = join(dir, 'edge.key');
  const certFile = join(dir, 'edge.pem');
  const [keyPem, certPem] = await Promise.all([readIfExists(keyFile), readIfExists(certFile)]);

  // The server certificate is derived state: anything off about it is fixed by issuing a fresh one.
  if (keyPem !== undefined && certPem !== undefined && isReusable({ keyPem, certPem }, ca, opts)) {
    return { keyPem, certPem };
  }
  const commonName = opts.dnsNames[0] ?? opts.ipAddresses[0] ?? 'burrow-edge';
  const issued = await issueServerCertificate(ca, { commonName, dnsNames: opts.dnsNames, ipAddresses: opts.ipAddresses });
  await writeFileAtomic(keyFile, issued.keyPem, 0o600);
  await writeFileAtomic(certFile, issued.certPem, 0o644);
  return issued;
}

function isReusable(server: CertifiedKey, ca: CertifiedKey, opts: { dnsNames: string[]; ipAddresses: string[] }): boolean {
  try {
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return false;
    if (!cert.checkPrivateKey(createPrivateKey(server.keyPem))) return false;
    if (new Date(cert.validTo).getTime() - Date.now() <= RENEW_BEFORE_MS) return false;
    if (new Date(cert.validFrom).getTime() > Date.now()) return false;
    const sanDns = new Set(
      (cert.subjectAltName ?? '')
        .split(', ')
        .filter((entry) => entry.startsWith('DNS:'))
        .map((entry) => entry.slice(4).toLowerCase()),
    );
    if (!opts.dnsNames.every((name) => sanDns.has(name.toLowerCase()))) return false;
    // checkIP compares addresses, not strings, so "::1" matches however the SAN spells it.
    return opts.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined);
  } catch {
    return false;
  }
}

async function ensureCaDir(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'ca');
  await ensurePrivateDir(dir);
  return dir;
}
