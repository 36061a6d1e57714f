// Built-in plugin: the edge's trust store in its dataDir: the origin CA (ca/ca.key, ca/ca.pem) and the API-token key.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TrustStoreToken, definePlugin, ensurePrivateDir, readIfExists, writeFileAtomic, type CertifiedKey, type TrustStore } from 'burrow';
import { loadOrCreateCa } from './ca-files.ts';


export default definePlugin({
  id: 'trust-files',
  description: 'The origin CA and the API-token signing key, kept in the edge dataDir',
  provides: ['trust-store'],
  edge(api) {
    const { dataDir } = api.settings;
    let ca: Promise<CertifiedKey> | undefined;
    let signingKey: Promise<Buffer> | undefined;
    const store: TrustStore = {
      originCa: (create) => (ca ??= loadOrCreateCa(join(dataDir, 'ca'), create)),
      tokenSigningKey: () => (signingKey ??= loadOrCreateSigningKey(dataDir)),
    };
    api.services.provide(TrustStoreToken, store);
  },
});

/** Zone tokens are HMAC-signed with this key, so they survive restarts without a token table. */
async function loadOrCreateSigningKey(dataDir: string): Promise<Buffer> {
  await ensurePrivateDir(dataDir);
  const file = join(dataDir, 'api-signing.key');
  const existing = await readIfExists(file);
  if (existing !== undefined) return Buffer.from(existing.trim(), 'base64');
  const key = randomBytes(32);
  await writeFileAtomic(file, `${key.toString('base64')}\n`, 0o600);
  return key;
}
