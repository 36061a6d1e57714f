// `burrow login` / `tunnel create|list|info|delete|route dns|token|run` as a user runs them, against a real edge.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readOriginCert } from '../../plugins/origin-ca/cert-file.ts';
import { decodeTunnelToken } from '../../plugins/origin-ca/tunnel-token.ts';
import { ADMIN_TOKEN, eventually, removeDir, startOrigin, tempDir, type TestOrigin } from '../helpers/harness.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { stopAll, visit } from '../helpers/http.ts';
import { startLoggedEdge } from '../helpers/identity.ts';

let edge: Awaited<ReturnType<typeof startLoggedEdge>>;
let origin: TestOrigin;
let env: NodeJS.ProcessEnv;
let tunnelId: string;
const homes: string[] = [];
const processes: CliProcess[] = [];

async function home(): Promise<NodeJS.ProcessEnv> {
  const dir = await tempDir('burrow-home-');
  homes.push(dir);
  return { ...process.env, BURROW_HOME: dir, BURROW_EDGE_TOKEN: '', BURROW_LOG_LEVEL: 'info' };
}

async function burrow(args: string[], environment = env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(args, environment, 60_000);
}

function run(args: string[], environment = env): CliProcess {
  const cli = new CliProcess(args, environment);
  processes.push(cli);
  return cli;
}

before(async () => {
  edge = await startLoggedEdge({ zones: ['example.test'] });
  origin = await startOrigin((req, res) => res.end(`origin saw ${req.headers.host}`));
  env = await home();
  const login = await burrow(['login', '--edge', edge.api, '--token', ADMIN_TOKEN]);
  assert.equal(login.code, 0, login.stderr);
});

after(async () => {
  await stopAll(...processes.map((p) => () => p.stop(2_000)), () => edge?.stop(), () => origin?.close(), () => removeDir(edge.dataDir), ...homes.map((h) => () => removeDir(h)));
});

describe('tunnel management from the command line', () => {
  it('create: prints a UUID and writes the credentials file with a 32-byte secret, mode 0600', async () => {
    const created = await burrow(['tunnel', 'create', 'app']);
    assert.equal(created.code, 0, created.stderr);
    tunnelId = created.stdout.match(/Created tunnel app with id ([0-9a-f-]{36})/)![1]!;
    const file = path.join(env.BURROW_HOME!, `${tunnelId}.json`);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const credentials = JSON.parse(await readFile(file, 'utf8')) as { TunnelID: string; TunnelSecret: string; TunnelName: string };
    assert.equal(credentials.TunnelID, tunnelId);
    assert.equal(credentials.TunnelName, 'app');
    assert.equal(Buffer.from(credentials.TunnelSecret, 'base64').length, 32);

    const again = await burrow(['tunnel', 'create', 'app']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /a tunnel named "app" already exists/);
  });

  it('list shows the tunnel', async () => {
    const listed = await burrow(['tunnel', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${tunnelId}\\s+app\\s+example\\.test`));
  });

  it('route dns: routes inside the zone, refuses outside it, and refuses taking a hostname from another tunnel unless --overwrite', async () => {
    const routed = await burrow(['tunnel', 'route', 'dns', 'app', 'app.example.test']);
    assert.equal(routed.code, 0, routed.stderr);
    assert.match(routed.stdout, /app\.example\.test will route to tunnel app/);

    const outside = await burrow(['tunnel', 'route', 'dns', 'app', 'app.elsewhere.test']);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /app\.elsewhere\.test is outside the zone example\.test/);

    assert.equal((await burrow(['tunnel', 'create', 'rival'])).code, 0);
    const taken = await burrow(['tunnel', 'route', 'dns', 'rival', 'app.example.test']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /app\.example\.test is already routed to tunnel .*--overwrite/);
    const moved = await burrow(['tunnel', 'route', 'dns', '--overwrite', 'rival', 'app.example.test']);
    assert.equal(moved.code, 0, moved.stderr);
    const back = await burrow(['tunnel', 'route', 'dns', '--overwrite', 'app', 'app.example.test']);
    assert.equal(back.code, 0, back.stderr);
  });

  it('run, then info lists the live connections with PoP, connector id, version and since when', async () => {
    const connector = run(['tunnel', 'run', 'app', '--url', origin.url]);
    await eventually(async () => (await visit(edge.url, '/', { host: 'app.example.test' })).status === 200, 30_000, 'the tunnel serving');
    assert.equal((await visit(edge.url, '/', { host: 'app.example.test' })).text, 'origin saw app.example.test');
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 4, 20_000, 'four connections');

    const info = await burrow(['tunnel', 'info', 'app']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /ROUTES:\s+app\.example\.test/);
    assert.match(info.stdout, /CONNECTOR ID\s+CONNECTION\s+POP\s+INDEX\s+VERSION\s+ORIGIN\s+CONNECTED SINCE/);
    const rows = info.stdout.split('\n').filter((line) => /\s+test\s+\d\s+\d+\.\d+\.\d+\s+127\.0\.0\.1:\d+\s+\d{4}-\d\d-\d\dT/.test(line));
    assert.equal(rows.length, 4, info.stdout);
    assert.equal(new Set(rows.map((row) => row.split(/\s+/)[0])).size, 1, 'one connector, four connections');
    // The per-connector summary: its id, version, address, 4 connections, all at the PoP "test".
    assert.match(info.stdout, /1 connector\(s\):\nCONNECTOR ID\s+VERSION\s+ORIGIN IP\s+CONNECTIONS\s+EDGE\s+CONNECTED SINCE\n[0-9a-f-]{36}\s+\d+\.\d+\.\d+\s+127\.0\.0\.1\s+4\s+4xtest\s+\d{4}-/);
    assert.ok(connector.running);
  });

  it('delete is refused while the tunnel has live connections', async () => {
    const refused = await burrow(['tunnel', 'delete', 'app']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /tunnel app has 4 live connection\(s\).*-f/);
    assert.equal((await visit(edge.url, '/', { host: 'app.example.test' })).status, 200);
  });

  it('token: one string runs the tunnel on a machine without cert.pem', async () => {
    const printed = await burrow(['tunnel', 'token', 'app']);
    assert.equal(printed.code, 0, printed.stderr);
    const token = printed.stdout.trim();
    const decoded = decodeTunnelToken(token);
    assert.equal(decoded.tunnelId, tunnelId);
    assert.equal(decoded.edge, edge.edge.addresses!.tunnel);
    const cert = await readOriginCert(path.join(env.BURROW_HOME!, 'cert.pem'));
    assert.notEqual(decoded.keyPem, cert.keyPem, 'the token carries its own key, not the one in cert.pem');

    // Stop the first connector; the token alone (the --token flag) brings the tunnel back from an empty BURROW_HOME.
    const [first] = processes;
    await first!.stop(10_000);
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 0, 20_000, 'the first connector gone');
    const elsewhere = await home();
    const fromFlag = run(['tunnel', 'run', '--url', origin.url, '--token', token], elsewhere);
    await eventually(async () => (await visit(edge.url, '/', { host: 'app.example.test' })).status === 200, 30_000, 'the tunnel serving from --token');
    assert.ok(fromFlag.running);
    assert.equal((await visit(edge.url, '/', { host: 'app.example.test' })).text, 'origin saw app.example.test');
    await assert.rejects(stat(path.join(elsewhere.BURROW_HOME!, 'cert.pem')), { code: 'ENOENT' });

    // The same token from $BURROW_TUNNEL_TOKEN, as a container would pass it.
    await fromFlag.stop(10_000);
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 0, 20_000, 'the --token connector gone');
    const fromEnv = run(['tunnel', 'run', '--url', origin.url], { ...elsewhere, BURROW_TUNNEL_TOKEN: token });
    await eventually(async () => (await visit(edge.url, '/', { host: 'app.example.test' })).status === 200, 30_000, 'the tunnel serving from $BURROW_TUNNEL_TOKEN');
    assert.ok(fromEnv.running);
  });

  it('a token that is not valid, or a missing cert.pem, is reported as the user mistake it is, not a plugin crash', async () => {
    const garbage = await burrow(['tunnel', 'run', '--url', origin.url, '--token', 'garbage!'], await home());
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /^error: --token: the tunnel token is not valid \(not base64\)\. Fix: copy the whole string `burrow tunnel token NAME` printed/m);
    assert.doesNotMatch(garbage.stderr, /plugin "origin-ca" failed/);

    const noCert = await burrow(['tunnel', 'run', 'app', '--url', origin.url], await home());
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /^error: .*cert\.pem: origin certificate not found; run `burrow login --edge URL` to create it/m);
    assert.doesNotMatch(noCert.stderr, /plugin "origin-ca" failed/);
  });

  it('a token for one tunnel cannot run another', async () => {
    const printed = await burrow(['tunnel', 'token', 'app']);
    const decoded = decodeTunnelToken(printed.stdout.trim());
    const rival = (await burrow(['tunnel', 'info', 'rival'])).stdout.match(/ID:\s+(\S+)/)![1]!;
    const rivalSecret = JSON.parse(await readFile(path.join(env.BURROW_HOME!, `${rival}.json`), 'utf8')).TunnelSecret as string;
    const { encodeTunnelToken } = await import('../../plugins/origin-ca/tunnel-token.ts');
    const spliced = encodeTunnelToken({ ...decoded, tunnelId: rival, tunnelName: 'rival', secret: rivalSecret });
    const attempt = await burrow(['tunnel', 'run', '--url', origin.url, '--token', spliced], await home());
    assert.equal(attempt.code, 1);
    assert.match(attempt.stderr, /may only run tunnel/);
  });

  it('delete -f cuts the connections off and removes the routes', async () => {
    const deleted = await burrow(['tunnel', 'delete', '-f', 'app']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /Deleted tunnel app \([0-9a-f-]{36}\); cut off 4 connection\(s\)/);
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 0, 20_000, 'connections cut');
    assert.equal((await visit(edge.url, '/', { host: 'app.example.test' })).status, 404);
    const listed = await burrow(['tunnel', 'list']);
    assert.doesNotMatch(listed.stdout, /\bapp\b/);
  });

  it('login --renew replaces the key and certificate without the admin token', async () => {
    const file = path.join(env.BURROW_HOME!, 'cert.pem');
    const before = await readOriginCert(file);
    const renewed = await burrow(['login', '--renew']);
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.match(renewed.stdout, /successfully renewed/);
    const after = await readOriginCert(file);
    assert.notEqual(after.keyPem, before.keyPem);
    assert.notEqual(after.certPem, before.certPem);
    assert.deepEqual(after.zones, before.zones);
    assert.equal((await burrow(['tunnel', 'list'])).code, 0);
  });

  it('the connector warns when its certificate is about to expire', async () => {
    const shortEdge = await startLoggedEdge({}, [{ use: 'origin-ca', options: { validityDays: 10 } }]);
    try {
      const shortEnv = await home();
      assert.equal((await burrow(['login', '--edge', shortEdge.api, '--token', ADMIN_TOKEN], shortEnv)).code, 0);
      assert.equal((await burrow(['tunnel', 'create', 'brief'], shortEnv)).code, 0);
      const connector = run(['tunnel', 'run', 'brief', '--url', origin.url], shortEnv);
      const warning = await connector.waitFor(/the client certificate expires on \S+ \(in (9|10) days\); renew it with `burrow login --renew`/, 30_000);
      assert.ok(warning);
      await connector.stop(5_000);
    } finally {
      await shortEdge.stop();
      await removeDir(shortEdge.dataDir);
    }
  });
});
