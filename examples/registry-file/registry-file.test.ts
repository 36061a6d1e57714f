// The registry-file example, listed in an edge config file's edge.plugins: it replaces registry-memory, end to end on loopback.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TunnelRegistryToken, type Connector } from 'burrow';
import { connectorFromFile, relativePluginPath, startEdgeFromFile } from '../../test/helpers/config-files.ts';
import { createTunnel, startOrigin, stopWorld, tempDir, type TestEdge, type TestOrigin } from '../../test/helpers/harness.ts';
import { visit } from '../../test/helpers/http.ts';

let dir: string;
let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;

before(async () => {
  dir = await tempDir('burrow-registry-file-');
  const plugin = relativePluginPath(dir, path.join(import.meta.dirname, 'index.ts'));
  edge = await startEdgeFromFile(dir, `  plugins:\n    - { use: ${plugin}, options: { file: tunnels.json } }\n`);
  origin = await startOrigin((req, res) => res.end(`origin saw ${req.headers.host}${req.url}`));
});

after(() => stopWorld({ connector, edge, origin }));

describe('registry-file example', () => {
  it('is the edge registry in place of registry-memory (no "already provided")', () => {
    assert.equal(edge.edge.services.get(TunnelRegistryToken).constructor.name, 'JsonFileRegistry');
    assert.equal(existsSync(path.join(dir, 'registry.json')), false, 'registry-memory was set up too');
  });

  it('keeps a tunnel created and routed through the API in its file', async () => {
    const credentials = await createTunnel(edge, 'filed', ['app.example.test']);
    const saved = JSON.parse(await readFile(path.join(dir, 'tunnels.json'), 'utf8')) as { tunnels: Array<{ id: string; name: string; secretHash: string }>; routes: Array<{ hostname: string; tunnelId: string }> };
    assert.deepEqual(saved.tunnels.map((t) => t.name), ['filed']);
    assert.equal(saved.tunnels[0]!.id, credentials.tunnelId);
    assert.ok(!JSON.stringify(saved).includes(credentials.tunnelSecret), 'the secret itself is never stored');
    assert.deepEqual(saved.routes.map((r) => [r.hostname, r.tunnelId]), [['app.example.test', credentials.tunnelId]]);

    connector = await connectorFromFile(dir, `ha-connections: 2\ningress:\n  - service: ${origin.url}\n`, credentials);
    await connector.start();
    const res = await visit(edge.url, '/hello');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'origin saw app.example.test/hello');
  });
});
