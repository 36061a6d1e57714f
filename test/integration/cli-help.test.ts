// Every command of the CLI prints its usage: --help for each, the commands the built-in plugins add, --version.
// The program is built in this process, as bin/burrow builds it, and parsed with --help per command; the binary
// itself is run for a few, and prints the same.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { defaultPlugins } from '../../config/default.ts';
import { createProgram } from '../../core/cli/program.ts';
import { resolveRuntimePlugins } from '../../core/kernel/loader.ts';
import { runCli, type CliResult } from '../helpers/cli.ts';

/** `burrow ...command --help` through the program bin/burrow runs, its output captured and process.exit kept away. */
async function helpInProcess(command: string[]): Promise<CliResult> {
  const program = await createProgram(await resolveRuntimePlugins({ defaults: defaultPlugins, listed: [] }));
  let stdout = '';
  let stderr = '';
  const capture = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: (text) => void (stdout += text), writeErr: (text) => void (stderr += text) });
    cmd.commands.forEach(capture);
  };
  capture(program);
  let code: number | null = 0;
  try {
    await program.parseAsync(['node', 'burrow', ...command, '--help']);
  } catch (error) {
    code = (error as { exitCode?: number }).exitCode ?? 1;
  }
  return { code, signal: null, stdout, stderr };
}

describe('burrow --help', () => {
  const commands = [
    [],
    ['edge'],
    ['login'],
    ['demo'],
    ['tunnel'],
    ['tunnel', 'create'],
    ['tunnel', 'list'],
    ['tunnel', 'info'],
    ['tunnel', 'delete'],
    ['tunnel', 'route'],
    ['tunnel', 'route', 'dns'],
    ['tunnel', 'route', 'explain'],
    ['tunnel', 'token'],
    ['tunnel', 'run'],
    ['tunnel', 'ingress'],
    ['tunnel', 'ingress', 'validate'],
    ['tunnel', 'ingress', 'rule'],
    ['network'],
    ['network', 'ca'],
    ['network', 'ca', 'init'],
    ['network', 'status'],
    ['network', 'dev'],
  ];
  const helps = new Map<string, Promise<CliResult>>();
  const help = (command: string[]): Promise<CliResult> => {
    const key = command.join(' ');
    if (!helps.has(key)) helps.set(key, helpInProcess(command));
    return helps.get(key)!;
  };

  it(`every command (${commands.length}) prints its usage and exits 0`, async () => {
    const failures: string[] = [];
    for (const command of commands) {
      const result = await help(command);
      const name = ['burrow', ...command].join(' ');
      if (result.code !== 0) failures.push(`${name} --help exited ${result.code}: ${result.stderr.slice(0, 300)}`);
      else if (!result.stdout.includes(`Usage: ${name}`)) failures.push(`${name} --help printed no usage line:\n${result.stdout.slice(0, 300)}`);
    }
    assert.deepEqual(failures, []);
  });

  for (const command of [[], ['tunnel', 'run'], ['network', 'dev']]) {
    it(`bin/burrow ${command.join(' ')} --help exits 0 and prints the same usage`, async () => {
      const [spawned, inProcess] = await Promise.all([runCli([...command, '--help'], process.env), help(command)]);
      assert.equal(spawned.code, 0, spawned.stderr);
      assert.equal(spawned.stdout, inProcess.stdout);
    });
  }

  it('every command a --help lists is in the list above, so none is left out', async () => {
    const known = new Set(commands.map((command) => command.join(' ')));
    const missing: string[] = [];
    for (const command of commands) {
      const { stdout } = await help(command);
      const section = stdout.split(/^Commands:\n/m)[1] ?? '';
      for (const [, child] of section.matchAll(/^ {2}([a-z][a-z-]*)/gm)) {
        const name = [...command, child!].join(' ');
        if (child !== 'help' && !known.has(name)) missing.push(`burrow ${name}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('lists the commands the built-in plugins contribute beside the core ones', async () => {
    const listed = async (command: string[]) => [...((await help(command)).stdout.split(/^Commands:\n/m)[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]);
    assert.deepEqual((await listed([])).filter((name) => name !== 'help').sort(), ['demo', 'edge', 'login', 'network', 'tunnel']);
    assert.deepEqual((await listed(['tunnel'])).sort(), ['create', 'delete', 'info', 'ingress', 'list', 'route', 'run', 'token']);
  });

  const options: Array<[command: string[], option: RegExp, what: string]> = [
    [['tunnel'], /--url <url>\s+quick tunnel/, 'the quick tunnel: burrow tunnel --url'],
    [['tunnel'], /--edge <url>\s+quick tunnel/, 'the quick tunnel edge API'],
    [['tunnel', 'run'], /--url <url>/, 'tunnel run --url (one origin, no ingress rules)'],
    [['tunnel', 'run'], /--token <token>[\s\S]*BURROW_TUNNEL_TOKEN/, 'tunnel run --token and its variable'],
    [['tunnel', 'run'], /--edge <address\.\.\.>/, 'tunnel run --edge'],
    [['tunnel', 'run'], /-c, --config <file>/, 'tunnel run --config'],
    [['tunnel', 'run'], /--inspect \[address\][\s\S]*127\.0\.0\.1:4040/, 'tunnel run --inspect and its default address'],
    [['demo'], /--port <port>/, 'demo --port'],
  ];
  for (const [command, option, what] of options) {
    it(`burrow ${command.join(' ')} --help documents ${what}`, async () => {
      const result = await help(command);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, option);
    });
  }

  it('burrow --version prints the version', async () => {
    const result = await runCli(['--version'], process.env);
    assert.equal(result.code, 0);
    assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+/);
  });
});
