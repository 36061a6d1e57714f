// `burrow network ca init --out DIR`: the CA, its key and the token key with their modes, and a folder that holds one is never overwritten.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initNetworkCa } from '../../../plugins/network/ca-command.ts';
import { runCli } from '../../helpers/cli.ts';
import { removeDir, tempDir } from '../../helpers/harness.ts';

const FILES = ['ca.key', 'ca.pem', 'api-signing.key'];

describe('burrow network ca init', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    root = await tempDir('burrow-network-ca-');
    env = { ...process.env, BURROW_HOME: path.join(root, 'home') };
  });
  after(() => removeDir(root));

  const mode = async (file: string) => (await stat(file)).mode & 0o777;
  const contents = (dir: string) => Promise.all(FILES.map((name) => readFile(path.join(dir, name))));

  it('creates the folder (0700) with ca.key (0600), ca.pem (0644) and api-signing.key (0600), and says what to do next', async () => {
    const dir = path.join(root, 'network-ca');
    const result = await runCli(['network', 'ca', 'init', '--out', dir], env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await mode(dir), 0o700);
    assert.equal(await mode(path.join(dir, 'ca.key')), 0o600);
    assert.equal(await mode(path.join(dir, 'ca.pem')), 0o644);
    assert.equal(await mode(path.join(dir, 'api-signing.key')), 0o600);

    for (const name of FILES) assert.ok(result.stdout.includes(path.join(dir, name)), `names ${name}:\n${result.stdout}`);
    assert.ok(result.stdout.includes(`edge.network.ca: ${dir}`), result.stdout);
    assert.match(result.stdout, /private key/);
    assert.match(result.stdout, /every PoP/);
    assert.match(result.stdout, /secure/);
  });

  it('writes a CA certificate whose key is ca.key, and a 32-byte token key in base64', async () => {
    const dir = path.join(root, 'network-ca');
    const cert = new X509Certificate(await readFile(path.join(dir, 'ca.pem'), 'utf8'));
    assert.equal(cert.ca, true);
    assert.match(cert.subject, /CN=Burrow network CA/);
    assert.equal(cert.checkPrivateKey(createPrivateKey(await readFile(path.join(dir, 'ca.key'), 'utf8'))), true);
    assert.equal(cert.verify(cert.publicKey), true, 'self-signed');
    const signing = await readFile(path.join(dir, 'api-signing.key'), 'utf8');
    assert.match(signing, /^[A-Za-z0-9+/]+=*\n$/);
    assert.equal(Buffer.from(signing.trim(), 'base64').length, 32);
  });

  it('refuses a folder that already holds the CA, naming it, and leaves its files byte for byte', async () => {
    const dir = path.join(root, 'network-ca');
    const before = await contents(dir);
    const result = await runCli(['network', 'ca', 'init', '--out', dir], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: .* already holds a network CA \(ca\.key, ca\.pem, api-signing\.key\); nothing was written\. Fix: /);
    assert.ok(result.stderr.includes(dir));
    assert.deepEqual(await contents(dir), before);
  });

  it('refuses a folder holding any one of the files, and writes none of the others', async () => {
    const dir = path.join(root, 'partial');
    await mkdir(dir);
    await writeFile(path.join(dir, 'api-signing.key'), 'kept\n');
    const result = await runCli(['network', 'ca', 'init', '--out', dir], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /already holds a network CA \(api-signing\.key\)/);
    assert.equal(await readFile(path.join(dir, 'api-signing.key'), 'utf8'), 'kept\n');
    await assert.rejects(stat(path.join(dir, 'ca.key')), { code: 'ENOENT' });
    await assert.rejects(stat(path.join(dir, 'ca.pem')), { code: 'ENOENT' });
  });

  it('fills an existing empty folder (as `network dev` does with its temp folder)', async () => {
    const dir = path.join(root, 'empty');
    await mkdir(dir, { mode: 0o755 });
    const { dir: out, files } = await initNetworkCa(dir);
    assert.equal(out, dir);
    assert.deepEqual(files, FILES.map((name) => path.join(dir, name)));
    assert.equal(await mode(dir), 0o700);
  });

  it('needs --out, and --help says what it writes and where it goes', async () => {
    const missing = await runCli(['network', 'ca', 'init'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--out/);
    const help = await runCli(['network', 'ca', 'init', '--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: burrow network ca init \[options\]/);
    assert.match(help.stdout, /--out <dir>/);
    assert.match(help.stdout, /edge\.network\.ca/);
    assert.match(help.stdout, /private key/);
  });
});
