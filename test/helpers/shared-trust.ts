// One trust store for several PoPs in one test, as a network shares its CA and token key; and plugins given inline.
import { randomBytes } from 'node:crypto';
import type { PluginSpec } from '../../config/schema.ts';
import { TrustStoreToken, definePlugin, type CertifiedKey, type PluginDefinition } from '../../core/index.ts';
import { createCertificateAuthority } from '../../plugins/origin-ca/ca.ts';

/** A plugin given to the edge as it is, the way the config loader hands one over. */
export const inline = (use: PluginDefinition<any>): PluginSpec => ({ use }) as unknown as PluginSpec;

/** A `trust-store` plugin whose CA (minted here) and token key every edge it is given to shares. */
export async function sharedTrust(commonName = 'Shared network CA'): Promise<{ plugin: PluginSpec; ca: CertifiedKey }> {
  const ca = await createCertificateAuthority({ commonName });
  const key = randomBytes(32);
  const plugin = definePlugin({
    id: 'shared-trust',
    provides: ['trust-store'],
    edge(api) {
      api.services.provide(TrustStoreToken, { originCa: async () => ca, tokenSigningKey: async () => key });
    },
  });
  return { plugin: inline(plugin), ca };
}
