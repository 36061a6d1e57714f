// The connector's credentials carry the tunnel's zone, whether they come from a tunnel token or from cert.pem and `<id>.json`.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConnectorPluginApi, CredentialsQuery } from 'burrow';
import { createConnectorHooks } from '../../../core/connector/hooks.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { createCertificateAuthority, createKeyAndCsr, signZoneCertificate } from '../../../plugins/origin-ca/ca.ts';
import { writeOriginCert } from '../../../plugins/origin-ca/cert-file.ts';
import { writeCredentialsFile } from '../../../plugins/origin-ca/credentials-file.ts';
import { tapCredentials } from '../../../plugins/origin-ca/credentials.ts';
import { encodeTunnelToken } from '../../../plugins/origin-ca/tunnel-token.ts';
import { removeDir, tempDir } from '../../helpers/harness.ts';

const TUNNEL_ID = '6ff42ae2-765d-4adf-8112-31c55c1551ef';
let dir: string;
let certFile: string;
let material: { caPem: string; certPem: string; keyPem: string };

const resolve = (query: Omit<CredentialsQuery, 'configDir'>) => {
  const hooks = createConnectorHooks();
  tapCredentials({ hooks, log: silentLogger } as unknown as ConnectorPluginApi, { expiryWarningDays: 0 });
  return hooks.resolveCredentials.promise({ configDir: dir, ...query });
};

before(async () => {
  dir = await tempDir('burrow-credentials-test-');
  const ca = await createCertificateAuthority({ commonName: 'test CA' });
  const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
  const { certPem } = await signZoneCertificate(ca, csrPem, { zones: ['example.test'] });
  material = { caPem: ca.certPem, certPem, keyPem };
  certFile = path.join(dir, 'cert.pem');
  await writeOriginCert(certFile, { ...material, zones: ['example.test'], edge: { api: 'http://127.0.0.1:7845', tunnel: '127.0.0.1:7844' }, apiToken: 'zone-token' });
});

after(() => removeDir(dir));

describe('origin-ca resolveCredentials', () => {
  it('a tunnel token gives the zone it was made for', async () => {
    const token = encodeTunnelToken({ zone: 'other.test', tunnelId: TUNNEL_ID, tunnelName: 'app', secret: 'c2VjcmV0', edge: '127.0.0.1:7844', ...material });
    const credentials = await resolve({ token });
    assert.equal(credentials?.zone, 'other.test');
    assert.equal(credentials?.tunnelId, TUNNEL_ID);
  });

  it('cert.pem and a credentials file give the Zone the file names', async () => {
    const file = path.join(dir, `${TUNNEL_ID}.json`);
    await writeCredentialsFile(file, { TunnelID: TUNNEL_ID, TunnelName: 'app', TunnelSecret: 'c2VjcmV0', Zone: 'example.test' });
    const credentials = await resolve({ originCert: certFile, credentialsFile: file });
    assert.equal(credentials?.zone, 'example.test');
    assert.equal(credentials?.edge, '127.0.0.1:7844');
  });

  it("a credentials file without Zone (cloudflared's) gets the zone of cert.pem", async () => {
    const file = path.join(dir, 'cloudflared.json');
    await writeFile(file, JSON.stringify({ TunnelID: TUNNEL_ID, TunnelSecret: 'c2VjcmV0' }));
    const credentials = await resolve({ originCert: certFile, credentialsFile: file });
    assert.equal(credentials?.zone, 'example.test');
  });
});
