// The origin CA as two files, ca.key and ca.pem: created once, then checked on every start.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { BurrowError, ensurePrivateDir, readIfExists, writeFileAtomic, type CertifiedKey } from 'burrow';


/** Loads the CA kept in `dir`, or keeps the one `create` mints when there is none. */
export async function loadOrCreateCa(dir: string, create: () => Promise<CertifiedKey>): Promise<CertifiedKey> {
  await ensurePrivateDir(dir);
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.pem');
  const [keyPem, certPem] = await Promise.all([readIfExists(keyFile), readIfExists(certFile)]);

  if (keyPem === undefined && certPem === undefined) {
    const ca = await create();
    // Key first: a crash between the two renames then leaves a key without a certificate, which is reported
    // below, rather than a certificate whose key is gone for good.
    await writeFileAtomic(keyFile, ca.keyPem, 0o600);
    await writeFileAtomic(certFile, ca.certPem, 0o644);
    return ca;
  }
  if (keyPem === undefined) throw caFileError(dir, keyFile, `the CA certificate ${certFile} exists but its key is missing`);
  if (certPem === undefined) throw caFileError(dir, certFile, `the CA key ${keyFile} exists but its certificate is missing`);

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw caFileError(dir, certFile, `could not parse the CA certificate ${certFile}: ${(err as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw caFileError(dir, keyFile, `could not parse the CA key ${keyFile}: ${(err as Error).message}`);
  }
  if (!matches) throw caFileError(dir, keyFile, `the CA key ${keyFile} does not belong to the certificate ${certFile}`);
  if (!cert.ca) throw caFileError(dir, certFile, `${certFile} is not a CA certificate`);
  return { keyPem, certPem };
}

function caFileError(dir: string, file: string, problem: string): BurrowError {
  const hint =
    `restore ${file} from a backup, or delete the folder ${dir} to create a new CA ` +
    '(a new CA invalidates every certificate the old one issued, so every connector must run `burrow login` again)';
  return new BurrowError('BURROW_ERR_CA', `${problem}. Fix: ${hint}.`, { hint });
}
