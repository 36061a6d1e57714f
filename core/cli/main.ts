// The `burrow` command line: one program, a subcommand per task, `--help` on each; built-in plugins add theirs.
import { defaultPlugins } from '../../config/default.ts';
import { resolveRuntimePlugins } from '../kernel/loader.ts';
import { createProgram } from './program.ts';
import { reportAndExit } from './run.ts';

// Only the built-ins: commands must exist before any config file is read (`--config` is an option of a command).
resolveRuntimePlugins({ defaults: defaultPlugins, listed: [] })
  .then(createProgram)
  .then((program) => program.parseAsync(process.argv))
  .catch(reportAndExit);
