// Private files (keys, tokens, credentials): read if present, created with their final mode and replaced atomically.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { AttributedError } from './errors.ts';

export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode only applies when it creates the folder, and the umask may have widened it.
  await chmod(dir, 0o700);
}

export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AttributedError('BURROW_ERR_FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Writes `file` so that no reader ever sees half of it, and a key is never readable by others, not even briefly. */
export async function writeFileAtomic(file: string, contents: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(contents, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
