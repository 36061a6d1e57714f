// `burrow network ca init --out DIR`: the origin CA and token key that every PoP of one network shares.
import type { CliPluginApi } from 'burrow';

/** Creates the network CA in `dir` (ca.key, ca.pem, api-signing.key); refuses a folder that already holds one. */
export async function initNetworkCa(dir: string): Promise<{ dir: string; files: string[] }> {
  throw new Error(`not available yet (${dir})`);
}

export function registerCaCommand(_api: CliPluginApi): void {}
