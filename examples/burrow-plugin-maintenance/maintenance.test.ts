// burrow-plugin-maintenance, installed as a user would install it: a copy in node_modules next to the config
// file, with `burrow` itself installed beside it; loaded by package name from a real config file.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from 'burrow';
import { createTestKit, type TestKit } from 'burrow/testing';

const repo = path.resolve(import.meta.dirname, '../..');
let project: string;
let kit: TestKit;

before(async () => {
  project = await mkdtemp(path.join(os.tmpdir(), 'burrow-npm-plugin-'));
  const modules = path.join(project, 'node_modules');
  await mkdir(modules);
  // What `npm install burrow-plugin-maintenance` leaves behind: the package's files in node_modules.
  await cp(import.meta.dirname, path.join(modules, 'burrow-plugin-maintenance'), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  // And the Burrow the user runs, which the plugin imports as its peer dependency.
  await symlink(repo, path.join(modules, 'burrow'), 'dir');
  await writeFile(
    path.join(project, 'burrow.config.yaml'),
    [
      'plugins:',
      '  - { use: burrow-plugin-maintenance, name: shop-down, options: { message: Back at 14:00., retryAfter: 1800, allow: [198.51.100.7] } }',
      'ingress:',
      '  - hostname: shop.example.test',
      '    service: http_status:200',
      '    middleware: [shop-down]',
      '  - service: http_status:204',
      '',
    ].join('\n'),
  );
  const { config } = await loadConfig(path.join(project, 'burrow.config.yaml'));
  kit = await createTestKit({ configDir: project, plugins: config.plugins, ingress: config.ingress as never });
});

after(async () => {
  await kit?.close();
  await rm(project, { recursive: true, force: true });
});

describe('burrow-plugin-maintenance (npm package)', () => {
  it('answers 503 with the message and Retry-After on the rule that lists it', async () => {
    const res = await kit.inject({ host: 'shop.example.test' });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1800');
    assert.equal(res.text.trim(), 'Back at 14:00.');
  });

  it('lets allowed addresses and other rules through', async () => {
    assert.equal((await kit.inject({ host: 'shop.example.test', clientIp: '198.51.100.7' })).status, 200);
    assert.equal((await kit.inject({ host: 'blog.example.test' })).status, 204);
  });

  it('reports a bad option with the plugin name and key path', async () => {
    await assert.rejects(
      createTestKit({ configDir: project, plugins: [{ use: 'burrow-plugin-maintenance', options: { allow: ['office'] } }] }),
      /plugins\[0\]\.options\.allow\[0\]: plugin "maintenance": expected an IP address/,
    );
  });
});
