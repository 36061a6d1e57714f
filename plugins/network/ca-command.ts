// `burrow network ca init --out DIR`: the origin CA and token key that every PoP of one network shares.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { BurrowError, ensurePrivateDir, writeFileAtomic, type CliPluginApi } from 'burrow';
import { createCertificateAuthority } from '../origin-ca/ca.ts';

/** The files of a network CA folder, as trust-files reads them with edge.network.ca. */
export const NETWORK_CA_FILES = ['ca.key', 'ca.pem', 'api-signing.key'] as const;

/** Creates the network CA in `dir` (ca.key, ca.pem, api-signing.key); refuses a folder that already holds one. */
export async function initNetworkCa(dir: string): Promise<{ dir: string; files: string[] }> {
  const out = path.resolve(dir);
  const present = await existingCaFiles(out);
  if (present.length > 0) {
    const hint = `pick another folder with --out, or, to replace this CA, delete ${present.map((name) => path.join(out, name)).join(', ')} first (a new CA invalidates every certificate the old one issued, so every PoP needs the new folder and every connector must run \`burrow login\` again)`;
    throw new BurrowError('BURROW_ERR_CA', `${out} already holds a network CA (${present.join(', ')}); nothing was written. Fix: ${hint}.`, { hint });
  }
  await ensurePrivateDir(out);
  const ca = await createCertificateAuthority({ commonName: 'Burrow network CA' });
  const files = NETWORK_CA_FILES.map((name) => path.join(out, name));
  const [keyFile, certFile, signingKeyFile] = files as [string, string, string];
  // Key first, as trust-files does: a crash in between leaves a key without a certificate, which is reported, never the reverse.
  await writeFileAtomic(keyFile, ca.keyPem, 0o600);
  await writeFileAtomic(certFile, ca.certPem, 0o644);
  await writeFileAtomic(signingKeyFile, `${randomBytes(32).toString('base64')}\n`, 0o600);
  return { dir: out, files };
}

export function registerCaCommand(api: CliPluginApi): void {
  api
    .command('network', 'a network of PoPs: its CA, its status and a dev network on one machine')
    .command('ca')
    .description("the network's origin CA, shared by every PoP")
    .command('init')
    .description('create the origin CA and API-token key that every PoP of one network shares (edge.network.ca)')
    .requiredOption('--out <dir>', 'the folder to create them in (made with mode 0700; must not hold a CA yet)')
    .addHelpText(
      'after',
      '\nWrites ca.key (0600), ca.pem (0644) and api-signing.key (0600) into the folder. Copy the folder to every PoP\n' +
        'and set `edge.network.ca: DIR` in each PoP\'s config: a certificate or zone token issued at one PoP is then\n' +
        'accepted at all of them. The folder holds the CA\'s private key: copy it only over a secure channel.',
    )
    .action(
      api.action(async (options: { out: string }) => {
        const { dir, files } = await initNetworkCa(options.out);
        process.stdout.write(
          `Created the network CA in ${dir}:\n` +
            files.map((file) => `  ${file}\n`).join('') +
            `\nIn every PoP's config, set edge.network.ca: ${dir}\n\n` +
            `  edge:\n    network:\n      ca: ${dir}\n\n` +
            `${dir} holds the CA's private key and the API-token key: copy it to every PoP of the network over a secure\n` +
            'channel (scp, a secrets manager), keep it readable only by the user that runs the edge, and keep a backup.\n',
        );
      }),
    );
}

async function existingCaFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    if (code === 'ENOTDIR') {
      const hint = 'give --out a folder path (it is created if missing)';
      throw new BurrowError('BURROW_ERR_CA', `--out ${dir} is a file, not a folder. Fix: ${hint}.`, { hint });
    }
    throw err;
  }
  return NETWORK_CA_FILES.filter((name) => names.includes(name));
}
