// The in-memory registry's snapshot file: a missing one starts empty, a broken one stops the edge with its code.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MemoryRegistry } from '../../../plugins/registry-memory/store.ts';
import { removeDir, tempDir } from '../../helpers/harness.ts';

describe('registry-memory snapshot file', () => {
  it('starts with no tunnels when the file is missing', async () => {
    const dir = await tempDir('burrow-registry-memory-');
    try {
      const registry = await MemoryRegistry.open(path.join(dir, 'registry.json'));
      assert.deepEqual(await registry.listTunnels(), []);
    } finally {
      await removeDir(dir);
    }
  });

  it('refuses a file that is not JSON with BURROW_ERR_REGISTRY_FILE and says how to recover', async () => {
    const dir = await tempDir('burrow-registry-memory-');
    const file = path.join(dir, 'registry.json');
    try {
      await writeFile(file, '{"tunnels": [');
      await assert.rejects(MemoryRegistry.open(file), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'BURROW_ERR_REGISTRY_FILE');
        assert.equal(error.message, `${file} is not valid JSON; restore it from a backup, or move it away to start with no tunnels`);
        return true;
      });
    } finally {
      await removeDir(dir);
    }
  });
});
