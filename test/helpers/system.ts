// Tests that run a system program name the Debian package to install when it is missing (`npm run setup` does).
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const found = new Map<string, string>();

/** The path of `program` (PATH, then /usr/sbin), or an error naming `debianPackage` and `npm run setup`. */
export function requireProgram(program: string, debianPackage: string): string {
  const known = found.get(program);
  if (known) return known;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/bin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      found.set(program, candidate);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`this test runs \`${program}\`, which is not installed: run \`npm run setup\` (or apt-get install ${debianPackage})`);
}
