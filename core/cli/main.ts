// The `burrow` command line: one program, a subcommand per task, `--help` on each; built-in plugins add theirs.
import { defaultPlugins } from '../../config/default.ts';
import { resolveRuntimePlugins } from '../kernel/loader.ts';
import { takeLogFlags } from './log-flags.ts';
import { createProgram } from './program.ts';
import { reportAndExit } from './run.ts';

// Only the built-ins: commands must exist before any config file is read (`--config` is an option of a command).
// --log-level and --log-format work before or after the command (`burrow tunnel run --log-level debug`).
Promise.resolve()
  .then(() => takeLogFlags(process.argv))
  .then(async (argv) => ({ argv, plugins: await resolveRuntimePlugins({ defaults: defaultPlugins, listed: [] }) }))
  .then(async ({ argv, plugins }) => (await createProgram(plugins)).parseAsync(argv))
  .catch(reportAndExit);
