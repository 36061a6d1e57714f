// The `burrow` program: every plugin's commands (the built-in run-commands gives `edge` and `tunnel run`).
import { Command } from 'commander';
import { Container } from 'inversify';
import { VERSION } from '../version.ts';
import { setupPlugins, type ResolvedPlugin } from '../kernel/loader.ts';
import { ServiceRegistry } from '../kernel/services.ts';
import type { CliPluginApi } from './plugin-api.ts';
import { action, onShutdownSignals } from './run.ts';

export async function createProgram(plugins: readonly ResolvedPlugin[]): Promise<Command> {
  const program = new Command('burrow')
    .description('Burrow: expose services behind NAT through an edge you run yourself')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // Lets `tunnel --edge URL` (quick tunnels) and `tunnel run --edge ADDR` keep their own meanings.
    .enablePositionalOptions()
    // Taken from anywhere on the command line before parsing (log-flags.ts); declared here for --help.
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent (over the config\'s loglevel and BURROW_LOG_LEVEL)')
    .option('--log-format <format>', 'json or pretty (default: pretty on a terminal, JSON otherwise; BURROW_LOG_FORMAT)');
  const services = new ServiceRegistry(new Container());
  await setupPlugins<CliPluginApi>(plugins, 'cli', (plugin) => ({
    runtime: 'cli',
    pluginId: plugin.definition.id,
    program,
    command: (path, description) => findOrCreateCommand(program, path, description),
    services,
    action,
    onShutdownSignals,
  }));
  return program;
}

function findOrCreateCommand(program: Command, path: string, description?: string): Command {
  const names = path.trim().split(/\s+/);
  let command = program;
  names.forEach((name, i) => {
    const existing = command.commands.find((child) => child.name() === name);
    command = existing ?? command.command(name);
    if (!existing && description !== undefined && i === names.length - 1) command.description(description);
  });
  return command;
}
