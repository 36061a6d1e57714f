// The `burrow` command line: one program, a subcommand per task, `--help` on each.
import { Command } from 'commander';
import { VERSION } from '../version.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerEdgeCommand } from './commands/edge.ts';
import { registerLoginCommand } from './commands/login.ts';
import { registerTunnelCommand } from './commands/tunnel.ts';
import { reportAndExit } from './run.ts';

export function createProgram(): Command {
  const program = new Command('burrow')
    .description('Burrow: expose services behind NAT through an edge you run yourself')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // Lets `tunnel --edge URL` (quick tunnels) and `tunnel run --edge ADDR` keep their own meanings.
    .enablePositionalOptions();
  registerEdgeCommand(program);
  registerLoginCommand(program);
  registerTunnelCommand(program);
  registerDemoCommand(program);
  return program;
}

createProgram().parseAsync(process.argv).catch(reportAndExit);
