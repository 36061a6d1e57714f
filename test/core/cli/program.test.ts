// Plugins contribute `burrow` commands: under existing parents, next to core's, and offering services to each other's commands.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { definePlugin, serviceToken, type CliPluginApi } from 'burrow';
import { createProgram } from '../../../core/cli/program.ts';
import { resolvePlugins } from '../../../core/kernel/loader.ts';
import runCommands from '../../../plugins/run-commands/index.ts';

const GreeterToken = serviceToken<{ greet(name: string): string }>('test.Greeter');

async function programWith(...plugins: Array<ReturnType<typeof definePlugin<undefined>>>): Promise<Command> {
  return createProgram(await resolvePlugins(plugins.map((use, i) => ({ spec: { use }, keyPath: ['plugins', i] }))));
}

const names = (command: Command | undefined) => command?.commands.map((child) => child.name()) ?? [];
const find = (parent: Command, name: string) => parent.commands.find((child) => child.name() === name);

describe('plugin commands', () => {
  it('a plugin adds a top-level command and commands under `tunnel`, next to the built-in `tunnel run`', async () => {
    const program = await programWith(
      runCommands,
      definePlugin({
        id: 'cli-test',
        cli(api) {
          api.program.command('hello').description('say hello');
          api.command('tunnel').command('wave <name>');
        },
      }),
    );
    assert.ok(names(program).includes('hello'));
    assert.ok(names(program).includes('edge'), 'the built-in commands stay');
    assert.deepEqual(names(find(program, 'tunnel')).filter((n) => ['run', 'ingress', 'wave'].includes(n)), ['run', 'ingress', 'wave']);
  });

  it('command(path) creates a missing parent once, with its description, and hands later plugins the same one', async () => {
    const parents: Command[] = [];
    const addUnder = (id: string, child: string) =>
      definePlugin({
        id,
        cli(api) {
          const parent = api.command('tunnel route', 'route traffic to a tunnel');
          parents.push(parent);
          parent.command(child);
        },
      });
    const program = await programWith(addUnder('first', 'dns'), addUnder('second', 'lb'));
    assert.equal(parents[0], parents[1]);
    const route = find(find(program, 'tunnel')!, 'route')!;
    assert.equal(route.description(), 'route traffic to a tunnel');
    assert.deepEqual(names(route), ['dns', 'lb']);
  });

  it("one plugin's command uses a service another plugin's cli() provided, whichever set up first", async () => {
    let heard = '';
    const program = await programWith(
      definePlugin({
        id: 'consumer',
        cli(api: CliPluginApi) {
          api.program.command('greet <name>').action(api.action(async (name: string) => void (heard = api.services.get(GreeterToken).greet(name))));
        },
      }),
      definePlugin({
        id: 'provider',
        cli(api) {
          api.services.provide(GreeterToken, { greet: (name) => `hello, ${name}` });
        },
      }),
    );
    await program.parseAsync(['greet', 'burrow'], { from: 'user' });
    assert.equal(heard, 'hello, burrow');
  });
});
