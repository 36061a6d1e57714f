// The connector reloads its config file under load: new requests follow the new rules, requests in flight finish
// on the old ones, an invalid file is refused with the usual error and the old config stays, SIGHUP reloads too.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { captureLogger, type LogLine } from '../helpers/identity.ts';
import { createTunnel, eventually, removeDir, startEdge, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';

let dir: string;
let edge: TestEdge;
let originA: TestOrigin;
let originB: TestOrigin;
const connectors: Connector[] = [];

before(async () => {
  dir = await tempDir('burrow-reload-');
  edge = await startEdge();
  originA = await startOrigin((req, res) => {
    if (req.url === '/slow') {
      // A response that is still streaming when the config changes.
      res.write('A-slow-start;');
      setTimeout(() => res.end('A-slow-end'), 1_500);
      return;
    }
    res.end('A');
  });
  originB = await startOrigin((_req, res) => res.end('B'));
});

after(() => stopAll(...connectors.map((c) => () => c.stop(0)), () => edge?.stop(), () => originA?.close(), () => originB?.close(), () => removeDir(dir)));

const rules = (origin: TestOrigin, extra = '') => `ha-connections: 2\n${extra}ingress:\n  - service: ${origin.url}\n`;

let tunnels = 0;

/** A connector for a tunnel of its own (so tests do not share traffic), from a config file; visit with `host`. */
async function connectorFor(file: string, text: string): Promise<{ connector: Connector; lines: LogLine[]; host: string }> {
  const host = `app${++tunnels}.example.test`;
  const credentials: TunnelCredentials = await createTunnel(edge, `reload-${tunnels}`, [host]);
  await writeFile(file, text);
  const { config } = await loadConfig(file);
  const { log, lines } = captureLogger();
  const connector = new Connector({ config, configFile: file, credentials, log, backoff: { baseMs: 100, capMs: 1_000 } });
  connectors.push(connector);
  await connector.start();
  return { connector, lines, host };
}

/** Visitors sending requests back to back until stopped; every answer is kept with when its request started. */
function load(host: string, workers = 4) {
  const answers: Array<{ startedAt: number; status: number; text: string }> = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    for (let i = 0; running && i < 5_000; i++) {
      const startedAt = Date.now();
      const reply = await visit(edge.url, '/', { host, timeoutMs: 10_000 }).catch((error: Error) => ({ status: 0, text: error.message }));
      answers.push({ startedAt, status: reply.status, text: reply.text });
    }
  });
  return {
    answers,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('connector config reload', () => {
  it('a changed rule applies to new requests under load, with no request failing and the one in flight finishing', async () => {
    const file = path.join(dir, 'watched.yaml');
    const { lines, host } = await connectorFor(file, rules(originA));
    const traffic = load(host);
    await eventually(() => traffic.answers.length >= 20, 10_000, 'traffic through the first config');
    const slow = visit(edge.url, '/slow', { host, timeoutMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));

    const changedAt = Date.now();
    await writeFile(file, rules(originB));
    await eventually(() => traffic.answers.some((a) => a.text === 'B'), 10_000, 'requests reaching origin B');
    const firstB = traffic.answers.find((a) => a.text === 'B')!;
    const switchedAfterMs = firstB.startedAt - changedAt;
    const seenAt = Date.now();
    await eventually(() => traffic.answers.filter((a) => a.startedAt > seenAt).length >= 40, 10_000, 'traffic through the new config');
    await traffic.stop();

    const failed = traffic.answers.filter((a) => a.status !== 200);
    assert.deepEqual(failed, [], `requests failed during the reload (${traffic.answers.length} sent)`);
    // Once a request reached B, every request that started after that answer was in also reached B.
    const afterSwitch = traffic.answers.filter((a) => a.startedAt > seenAt);
    assert.ok(afterSwitch.every((a) => a.text === 'B'), `A answered after the switch: ${afterSwitch.filter((a) => a.text !== 'B').length} times`);
    const slowReply = await slow;
    assert.equal(slowReply.status, 200);
    assert.equal(slowReply.text, 'A-slow-start;A-slow-end', 'the request in flight finished on the old config');
    assert.ok(lines.some((l) => l.msg === 'config reloaded'), 'the reload is logged');
    process.stdout.write(`# new rule in force ${switchedAfterMs} ms after the file was written\n`);
    // What the contract promises a user who edits the file: new requests follow it within 2 s (a 200 ms debounce, then the swap).
    assert.ok(switchedAfterMs < 2_000, `the new rule took ${switchedAfterMs} ms to apply`);
  });

  it('an invalid file is refused with the usual error, and the config in force stays', async () => {
    const file = path.join(dir, 'invalid.yaml');
    const { connector, lines, host } = await connectorFor(file, rules(originA));
    const refused = new Promise<Error>((resolve) => connector.once('reloadRefused', resolve));
    await writeFile(file, 'ingress:\n  - service: localhost:3000\n');
    const error = await refused;
    assert.match(error.message, /invalid\.yaml: ingress\[0\]\.service: "localhost:3000" is not a valid service/);
    const line = lines.find((l) => l.msg === 'config reload refused; the config in force stays');
    assert.ok(line, 'the refusal is logged');
    assert.match(String(line.err), /ingress\[0\]\.service/);
    for (let i = 0; i < 5; i++) {
      const reply = await visit(edge.url, '/', { host });
      assert.equal(reply.text, 'A');
    }
    // Fixed again, it is taken.
    const reloaded = new Promise((resolve) => connector.once('reloaded', resolve));
    await writeFile(file, rules(originB));
    await reloaded;
    await eventually(async () => (await visit(edge.url, '/', { host })).text === 'B', 10_000, 'the fixed config in force');
  });

  it('SIGHUP reloads when the file is not watched, and keys that need a restart are named', async () => {
    const file = path.join(dir, 'hangup.yaml');
    const plugins = 'plugins:\n  - { use: config-reload, options: { watch: false } }\n';
    const { connector, lines, host } = await connectorFor(file, rules(originA, plugins));
    await writeFile(file, rules(originB, `${plugins}retries: 7\n`));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal((await visit(edge.url, '/', { host })).text, 'A', 'without a watcher nothing changes yet');
    const reloaded = new Promise((resolve) => connector.once('reloaded', resolve));
    process.emit('SIGHUP', 'SIGHUP');
    await reloaded;
    assert.equal((await visit(edge.url, '/', { host })).text, 'B');
    const warning = lines.find((l) => l.msg === 'these config keys changed but apply only after a restart');
    assert.deepEqual(warning?.keys, ['retries']);
  });

  it('a plugins entry with new options applies at once, as does one added or removed, under load with no failure', async () => {
    const file = path.join(dir, 'plugins.yaml');
    const stage = (value: string) => `  - { use: headers, options: { response: { set: { x-stage: ${value} } } } }\n`;
    const watch = '  - { use: config-reload, options: { debounceMs: 50 } }\n';
    const { connector, lines, host } = await connectorFor(file, rules(originA, `plugins:\n${watch}${stage('one')}`));
    assert.equal((await visit(edge.url, '/', { host })).headers['x-stage'], 'one');
    const traffic = load(host);

    // New options for a global middleware plugin.
    await writeFile(file, rules(originA, `plugins:\n${watch}${stage('two')}`));
    await eventually(async () => (await visit(edge.url, '/', { host })).headers['x-stage'] === 'two', 10_000, 'the new options');
    // A second one added after it: both run, in list order (the later set wins).
    await writeFile(file, rules(originA, `plugins:\n${watch}${stage('two')}  - { use: headers, name: tag, options: { response: { set: { x-tag: rule } } } }\n`).replace('  - service:', '  - middleware: [tag]\n    service:'));
    await eventually(async () => (await visit(edge.url, '/', { host })).headers['x-tag'] === 'rule', 10_000, 'the named instance on its rule');
    // Both removed.
    await writeFile(file, rules(originA, `plugins:\n${watch}`));
    await eventually(async () => {
      const reply = await visit(edge.url, '/', { host });
      return reply.headers['x-stage'] === undefined && reply.headers['x-tag'] === undefined;
    }, 10_000, 'no header middleware left');

    await traffic.stop();
    const failed = traffic.answers.filter((answer) => answer.status !== 200 || answer.text !== 'A');
    assert.deepEqual(failed, [], `requests failed during the reloads (${traffic.answers.length} sent)`);
    assert.equal(lines.filter((l) => l.msg === 'config reloaded').length >= 3, true);
    assert.equal(lines.find((l) => l.msg === 'these plugins changed but apply only after a restart'), undefined, 'middleware-only plugins need no restart');
    assert.equal(connector.config.plugins?.length, 1);
  });

  it('a change to a plugin that keeps state (the config-reload watcher) is named as taking a restart, and the rest applies', async () => {
    const file = path.join(dir, 'lasting.yaml');
    const watch = (debounce: string) => `  - { use: config-reload, options: { debounceMs: ${debounce} } }\n`;
    const { lines, host } = await connectorFor(file, rules(originA, `plugins:\n${watch('50')}`));
    await writeFile(file, rules(originB, `plugins:\n${watch('60')}  - { use: headers, options: { response: { set: { x-stage: new } } } }\n`));
    await eventually(async () => (await visit(edge.url, '/', { host })).text === 'B', 10_000, 'the new rule');
    assert.equal((await visit(edge.url, '/', { host })).headers['x-stage'], 'new');
    const warning = lines.find((l) => l.msg === 'these plugins changed but apply only after a restart');
    assert.deepEqual(warning?.plugins, ['config-reload at plugins[0]']);
  });

  it('a plugins entry with invalid options is refused with its key path, and the plugins in force stay', async () => {
    const file = path.join(dir, 'bad-plugin.yaml');
    const good = `plugins:\n  - { use: config-reload, options: { watch: false } }\n  - { use: headers, options: { response: { set: { x-stage: kept } } } }\n`;
    const { connector, lines, host } = await connectorFor(file, rules(originA, good));
    await writeFile(file, rules(originB, good.replace('x-stage: kept', 'x-stage: kept, bogus: 1')));
    assert.equal(await connector.reload(), false);
    const line = lines.find((l) => l.msg === 'config reload refused; the config in force stays');
    assert.match(String(line?.err), /plugins\[1\]/);
    const reply = await visit(edge.url, '/', { host });
    assert.equal(reply.text, 'A');
    assert.equal(reply.headers['x-stage'], 'kept');
  });
});

