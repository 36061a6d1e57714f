// The origin CA (ca.key, ca.pem): created once in the dataDir and checked on every start, or only loaded from edge.network.ca.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BurrowError, ensurePrivateDir, readIfExists, writeFileAtomic, type CertifiedKey } from 'burrow';

/** How a problem with the CA files is reported: a message naming the file, and the fix. */
type CaFileError = (file: string, problem: string) => BurrowError;

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
  return checkCa(dir, keyPem, certPem, (file, problem) => caFileError(dir, file, problem));
}

/**
 * Loads the network CA from `dir` (edge.network.ca) and never creates one: every PoP of a network must use the same
 * CA, so a missing or broken file is an error that says to copy the folder from another PoP.
 */
export async function loadNetworkCa(dir: string): Promise<CertifiedKey> {
  await requireNetworkCaFolder(dir);
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.pem');
  const fail: CaFileError = (_file, problem) => networkCaError(dir, problem);
  const [keyPem, certPem] = await Promise.all([readNetworkFile(dir, keyFile), readNetworkFile(dir, certFile)]);
  if (keyPem === undefined) throw fail(keyFile, `the CA key ${keyFile} is missing`);
  if (certPem === undefined) throw fail(certFile, `the CA certificate ${certFile} is missing`);
  return checkCa(dir, keyPem, certPem, fail);
}

/** Loads the API-token signing key of the network (api-signing.key in edge.network.ca); never creates one. */
export async function loadNetworkSigningKey(dir: string): Promise<Buffer> {
  await requireNetworkCaFolder(dir);
  const file = join(dir, 'api-signing.key');
  const text = await readNetworkFile(dir, file);
  if (text === undefined) throw networkCaError(dir, `the token signing key ${file} is missing`);
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32) {
    throw networkCaError(dir, `the token signing key ${file} is not the base64 of 32 bytes`);
  }
  return key;
}

/** Checks that the key and certificate are both there, parse, belong together and make a CA. */
function checkCa(dir: string, keyPem: string | undefined, certPem: string | undefined, fail: CaFileError): CertifiedKey {
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.pem');
  if (keyPem === undefined) throw fail(keyFile, `the CA certificate ${certFile} exists but its key is missing`);
  if (certPem === undefined) throw fail(certFile, `the CA key ${keyFile} exists but its certificate is missing`);

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw fail(certFile, `could not parse the CA certificate ${certFile}: ${(err as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw fail(keyFile, `could not parse the CA key ${keyFile}: ${(err as Error).message}`);
  }
  if (!matches) throw fail(keyFile, `the CA key ${keyFile} does not belong to the certificate ${certFile}`);
  if (!cert.ca) throw fail(certFile, `${certFile} is not a CA certificate`);
  return { keyPem, certPem };
}

function caFileError(dir: string, file: string, problem: string): BurrowError {
  const hint =
    `restore ${file} from a backup, or delete the folder ${dir} to create a new CA ` +
    '(a new CA invalidates every certificate the old one issued, so every connector must run `burrow login` again)';
  return new BurrowError('BURROW_ERR_CA', `${problem}. Fix: ${hint}.`, { hint });
}

function networkCaError(dir: string, problem: string): BurrowError {
  const hint =
    `copy the whole folder (ca.key, ca.pem, api-signing.key) from another PoP of the network to ${dir}, ` +
    'or, for a new network, create one with `burrow network ca init --out DIR` and set edge.network.ca: DIR on every PoP';
  return new BurrowError('BURROW_ERR_CA', `edge.network.ca: ${problem}. Fix: ${hint}.`, { hint });
}

async function requireNetworkCaFolder(dir: string): Promise<void> {
  let stats;
  try {
    stats = await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw networkCaError(dir, `the network CA folder ${dir} does not exist`);
    throw networkCaError(dir, `cannot open the network CA folder ${dir}: ${(err as Error).message}`);
  }
  if (!stats.isDirectory()) throw networkCaError(dir, `${dir} is not a folder`);
}

async function readNetworkFile(dir: string, file: string): Promise<string | undefined> {
  try {
    return await readIfExists(file);
  } catch (err) {
    throw networkCaError(dir, (err as Error).message);
  }
}
