// The discovery-first example, listed in a connector config file: its edges win over cert.pem's, end to end on loopback.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connector, TunnelCredentials } from 'burrow';
import { connectorFromFile, relativePluginPath } from '../../test/helpers/config-files.ts';
import { createTunnel, removeDir, startEdge, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../../test/helpers/harness.ts';
import { freePort, stopAll, visit } from '../../test/helpers/http.ts';

let dir: string;
let plugin: string;
let edge: TestEdge;
let origin: TestOrigin;
let credentials: TunnelCredentials;
let deadEdge: string;
const connectors: Connector[] = [];

before(async () => {
  dir = await tempDir('burrow-discovery-first-');
  plugin = relativePluginPath(dir, path.join(import.meta.dirname, 'index.ts'));
  edge = await startEdge();
  origin = await startOrigin((_req, res) => res.end('from the origin'));
  credentials = await createTunnel(edge, 'discovered', ['app.example.test']);
  deadEdge = `127.0.0.1:${await freePort()}`;
});

after(() => stopAll(...connectors.map((c) => () => c.stop(0)), () => edge.stop(), () => origin.close(), () => removeDir(edge.dataDir), () => removeDir(dir)));

/** A connector from a config file whose plugins: list is `plugins` (YAML lines); `retries: 1` so a dead end fails fast. */
async function connectorWith(plugins: string, creds: TunnelCredentials): Promise<Connector> {
  const connector = await connectorFromFile(dir, `ha-connections: 1\nretries: 1\nplugins:\n${plugins}ingress:\n  - service: ${origin.url}\n`, creds);
  connectors.push(connector);
  return connector;
}

describe('discovery-first example', () => {
  it('answers before discovery-static: cert.pem names a dead edge, the config file the live one', async () => {
    const connector = await connectorWith(`  - { use: ${plugin}, options: { edges: ["${edge.edge.addresses!.tunnel}"] } }\n`, { ...credentials, edge: deadEdge });
    await connector.start();
    const res = await visit(edge.url, '/');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'from the origin');
    await connector.stop(0);
  });

  it('reads the addresses from a file next to the config', async () => {
    await writeFile(path.join(dir, 'edges.txt'), `# nearest first\n${edge.edge.addresses!.tunnel}\n`);
    const connector = await connectorWith(`  - { use: ${plugin}, options: { file: edges.txt } }\n`, { ...credentials, edge: deadEdge });
    await connector.start();
    assert.equal((await visit(edge.url, '/')).status, 200);
    await connector.stop(0);
  });

  it('with discovery-static switched off and nothing to answer, the connector has no edges', async () => {
    const connector = await connectorWith(`  - ${plugin}\n  - { use: discovery-static, enabled: false }\n`, credentials);
    await assert.rejects(connector.start(), /no edge addresses found/);
  });

  it('with discovery-static switched back on, cert.pem\'s edge is the fallback', async () => {
    const connector = await connectorWith(`  - ${plugin}\n  - { use: discovery-static, enabled: true }\n`, credentials);
    await connector.start();
    assert.equal((await visit(edge.url, '/')).status, 200);
    await connector.stop(0);
  });
});
