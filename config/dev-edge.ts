// The settings of `burrow edge --dev` (and `burrow demo`): a throwaway edge on loopback, own CA in a temp dir,
// zone localhost, quick tunnels on.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EdgeConfigInput } from './schema.ts';

export async function devEdgeSettings(overrides: Partial<EdgeConfigInput['listen']> = {}): Promise<EdgeConfigInput> {
  return {
    pop: 'dev',
    listen: { http: '127.0.0.1:8080', tunnel: '127.0.0.1:7844', api: '127.0.0.1:7845', ...overrides },
    dataDir: await mkdtemp(path.join(os.tmpdir(), 'burrow-dev-')),
    zones: ['localhost'],
    quickTunnels: 'localhost',
  };
}
