// Built-in plugin: the edge's trust store: the origin CA and the API-token key, in its dataDir or the network CA folder.
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { TrustStoreToken, definePlugin, ensurePrivateDir, readIfExists, writeFileAtomic, type CertifiedKey, type TrustStore } from 'burrow';
import { loadNetworkCa, loadNetworkSigningKey, loadOrCreateCa } from './ca-files.ts';


export default definePlugin({
  id: 'trust-files',
  description: 'The origin CA and the API-token signing key, kept in the edge dataDir (or shared by the network: edge.network.ca)',
  provides: ['trust-store'],
  edge(api) {
    const { dataDir } = api.settings;
    const networkCa = api.settings.network?.ca;
    let ca: Promise<CertifiedKey> | undefined;
    let signingKey: Promise<Buffer> | undefined;
    // A network's PoPs must share one CA and one token key, so they come from its folder and are never made here.
    const networkDir = networkCa === undefined ? undefined : resolve(networkCa);
    const store: TrustStore = networkDir
      ? {
          originCa: () => (ca ??= loadNetworkCa(networkDir)),
          tokenSigningKey: () => (signingKey ??= loadNetworkSigningKey(networkDir)),
        }
      : {
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
