// The error catalogue: every code Burrow raises is listed once in core/kernel/errors.ts, and every listed code is used.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { errorCodes } from '../../../core/kernel/errors.ts';
import { ConfigError, OriginError, PluginError, RegistrationRefused, RouteConflictError } from '../../../core/index.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(repo, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !file.includes(`${path.sep}node_modules${path.sep}`));
}

describe('error codes', () => {
  it('every BURROW_ERR_* code in the source is in the catalogue, and every catalogued code is raised somewhere', async () => {
    const used = new Map<string, string>();
    const catalogue = path.join(repo, 'core/kernel/errors.ts');
    for (const file of [...(await sources('core')), ...(await sources('plugins')), ...(await sources('examples'))]) {
      if (file === catalogue) continue;
      for (const [code] of (await readFile(file, 'utf8')).matchAll(/BURROW_ERR_[A-Z_]+/g)) used.set(code, path.relative(repo, file));
    }
    const unknown = [...used].filter(([code]) => !(code in errorCodes)).map(([code, file]) => `${code} (${file})`);
    assert.deepEqual(unknown, [], 'codes raised but missing from core/kernel/errors.ts');
    const unused = Object.keys(errorCodes).filter((code) => code !== 'BURROW_ERR_CONFIG' && !used.has(code));
    assert.deepEqual(unused, [], 'catalogued codes nothing raises');
  });

  it("Burrow's own error classes carry catalogued codes", () => {
    const errors = [
      new ConfigError('bad', { keyPath: 'x' }),
      new RegistrationRefused('no', false),
      new RouteConflictError('a.example.test', 'tunnel'),
      new OriginError(502, 'down'),
      new PluginError('p', 'setup', new Error('boom')),
    ];
    for (const error of errors) assert.ok(error.code in errorCodes, `${error.constructor.name} has ${error.code}`);
  });
});
