// trust-files with edge.network.ca: two PoPs on one network CA folder accept each other's certificates and zone tokens; a bad folder stops the edge.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../../core/connector/connector.ts';
import { Edge } from '../../../core/edge/edge.ts';
import { EdgeClient } from '../../../core/edge-client.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import type { EdgeConfigInput } from '../../../config/schema.ts';
import { initNetworkCa } from '../../../plugins/network/ca-command.ts';
import { createTunnel, removeDir, startConnector, startEdge, startOrigin, stopWorld, tempDir, type TestEdge, type TestOrigin } from '../../helpers/harness.ts';
import { stopAll, visit } from '../../helpers/http.ts';
import { startRedis, type TestRedis } from '../../helpers/redis.ts';

describe('trust-files: two PoPs share the network CA folder (edge.network.ca)', () => {
  let root: string;
  let caDir: string;
  let redis: TestRedis;
  let fra: TestEdge;
  let iad: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;

  before(async () => {
    root = await tempDir('burrow-network-ca-');
    caDir = path.join(root, 'network-ca');
    await initNetworkCa(caDir);
    redis = await startRedis();
    const network = { registry: redis.url, ca: caDir };
    fra = await startEdge({ pop: 'fra', network });
    iad = await startEdge({ pop: 'iad', network });
    origin = await startOrigin((req, res) => res.end(`served ${req.headers.host}`));
  });
  after(() =>
    stopAll(
      () => stopWorld({ connector, edge: iad, origin }),
      () => stopWorld({ edge: fra }),
      () => redis.close(),
      () => removeDir(root),
    ),
  );

  it('a connector logged in at fra registers and serves visitors at iad', async () => {
    const credentials = await createTunnel(fra, 'app', ['app.example.test']);
    connector = await startConnector({ ...credentials, edge: iad.edge.addresses!.tunnel }, { ingress: [{ service: origin.url }] });
    const answer = await visit(iad.url, '/', { host: 'app.example.test' });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'served app.example.test');
  });

  it("a zone token issued at fra is accepted by iad's API", async () => {
    const credentials = await createTunnel(fra, 'other', ['other.example.test']);
    const atIad = new EdgeClient(iad.api, credentials.apiToken);
    const { tunnel } = await atIad.request<{ tunnel: { id: string; name: string } }>('GET', '/v1/tunnels/other');
    assert.equal(tunnel.id, credentials.tunnelId);
  });

  it('keeps no CA or token key of its own in the dataDir, and adds nothing to the network folder', async () => {
    for (const edge of [fra, iad]) {
      const names = await readdir(edge.dataDir);
      assert.ok(!names.includes('api-signing.key'), `${edge.dataDir} holds ${names.join(', ')}`);
      // dataDir/ca keeps this PoP's own TLS server certificate (edge.key, edge.pem), never a CA.
      const caNames = names.includes('ca') ? await readdir(path.join(edge.dataDir, 'ca')) : [];
      assert.ok(!caNames.includes('ca.key') && !caNames.includes('ca.pem'), `${edge.dataDir}/ca holds ${caNames.join(', ')}`);
    }
    assert.deepEqual((await readdir(caDir)).sort(), ['api-signing.key', 'ca.key', 'ca.pem']);
  });
});

describe('trust-files: a missing or broken network CA folder stops the edge', () => {
  let root: string;
  before(async () => {
    root = await tempDir('burrow-network-ca-');
  });
  after(() => removeDir(root));

  /** Starts an edge on `network.ca: caDir` and returns how start() failed; the edge is stopped and its dataDir removed. */
  async function startFailure(caDir: string): Promise<Error> {
    const dataDir = await tempDir('burrow-edge-');
    const settings: EdgeConfigInput = {
      pop: 'fra',
      zones: ['example.test'],
      dataDir,
      network: { ca: caDir },
      listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0', peer: '127.0.0.1:0' },
    };
    const edge = Edge.fromConfig(settings, { log: silentLogger });
    try {
      return await edge.start().then(
        () => assert.fail('the edge should refuse to start'),
        (error: Error) => error,
      );
    } finally {
      await stopAll(() => edge.stop(0), () => removeDir(dataDir));
    }
  }

  function assertNetworkCaError(error: Error & { code?: string }, file: RegExp): void {
    assert.equal(error.code, 'BURROW_ERR_CA', error.message);
    assert.match(error.message, /^edge\.network\.ca: /);
    assert.match(error.message, file);
    assert.match(error.message, /Fix: copy the whole folder .* from another PoP/);
    assert.match(error.message, /burrow network ca init --out DIR/);
  }

  it('a folder that does not exist, and creates nothing', async () => {
    const caDir = path.join(root, 'missing');
    const error = await startFailure(caDir);
    assertNetworkCaError(error, new RegExp(`the network CA folder ${caDir} does not exist`));
    await assert.rejects(readdir(caDir), { code: 'ENOENT' });
  });

  it('a folder without ca.key', async () => {
    const caDir = path.join(root, 'no-key');
    await initNetworkCa(caDir);
    await rm(path.join(caDir, 'ca.key'));
    const error = await startFailure(caDir);
    assertNetworkCaError(error, new RegExp(`the CA key ${path.join(caDir, 'ca.key')} is missing`));
    assert.deepEqual((await readdir(caDir)).sort(), ['api-signing.key', 'ca.pem']);
  });

  it('a ca.key of another CA', async () => {
    const caDir = path.join(root, 'mixed');
    const otherDir = path.join(root, 'other');
    await initNetworkCa(caDir);
    await initNetworkCa(otherDir);
    await copyFile(path.join(otherDir, 'ca.key'), path.join(caDir, 'ca.key'));
    const error = await startFailure(caDir);
    assertNetworkCaError(error, new RegExp(`the CA key ${path.join(caDir, 'ca.key')} does not belong to the certificate ${path.join(caDir, 'ca.pem')}`));
  });

  it('a missing or broken api-signing.key', async () => {
    const caDir = path.join(root, 'no-signing-key');
    await initNetworkCa(caDir);
    await rm(path.join(caDir, 'api-signing.key'));
    assertNetworkCaError(await startFailure(caDir), new RegExp(`the token signing key ${path.join(caDir, 'api-signing.key')} is missing`));
    await writeFile(path.join(caDir, 'api-signing.key'), 'not a key\n', { mode: 0o600 });
    assertNetworkCaError(await startFailure(caDir), new RegExp(`the token signing key ${path.join(caDir, 'api-signing.key')} is not the base64 of 32 bytes`));
  });

  it('a file where the folder should be', async () => {
    const caFile = path.join(root, 'a-file');
    await mkdir(root, { recursive: true });
    await writeFile(caFile, '');
    assertNetworkCaError(await startFailure(caFile), new RegExp(`${caFile} is not a folder`));
  });
});
