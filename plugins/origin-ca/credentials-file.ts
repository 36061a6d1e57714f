// The tunnel credentials file `<id>.json` (cloudflared's key names), written by `tunnel create`, read by `tunnel run`.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from 'burrow';

export interface CredentialsFile {
  TunnelID: string;
  TunnelName: string;
  /** Base64 of the 32-byte secret. */
  TunnelSecret: string;
  Zone: string;
}

export async function writeCredentialsFile(file: string, credentials: CredentialsFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function readCredentialsFile(file: string, keyPath = 'credentials-file'): Promise<CredentialsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError(missing ? `tunnel credentials file ${file} does not exist` : `cannot read ${file}: ${(error as Error).message}`, {
      keyPath,
      hint: 'point credentials-file at the <id>.json that `burrow tunnel create` wrote, or create the tunnel again',
    });
  }
  let parsed: Partial<CredentialsFile>;
  try {
    parsed = JSON.parse(text) as Partial<CredentialsFile>;
  } catch {
    throw new ConfigError(`${file} is not valid JSON`, { keyPath, hint: 'restore the file `burrow tunnel create` wrote' });
  }
  if (typeof parsed.TunnelID !== 'string' || typeof parsed.TunnelSecret !== 'string') {
    throw new ConfigError(`${file} lacks TunnelID or TunnelSecret`, { keyPath, hint: 'restore the file `burrow tunnel create` wrote' });
  }
  return { TunnelID: parsed.TunnelID, TunnelSecret: parsed.TunnelSecret, TunnelName: parsed.TunnelName ?? '', Zone: parsed.Zone ?? '' };
}
