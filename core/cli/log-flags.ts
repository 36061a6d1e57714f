// `--log-level LEVEL` and `--log-format json|pretty`, accepted anywhere on the command line.
import { ConfigError } from '../kernel/errors.ts';
import { LOG_FORMATS, LOG_LEVELS, setLogOverrides } from '../kernel/logger.ts';

/** Removes the log flags from `argv` (`--log-level X` or `--log-level=X`), applies them, and returns the rest. */
export function takeLogFlags(argv: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const match = /^--(log-level|log-format)(?:=(.*))?$/.exec(arg);
    if (!match) {
      rest.push(arg);
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (match[1] === 'log-level') setLogOverrides({ level: checked('--log-level', value, LOG_LEVELS) });
    else setLogOverrides({ format: checked('--log-format', value, LOG_FORMATS) });
  }
  return rest;
}

function checked<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T {
  if (value !== undefined && (allowed as readonly string[]).includes(value)) return value as T;
  const shown = value === undefined ? 'no value' : JSON.stringify(value);
  throw new ConfigError(`${flag}: ${shown} is not one of ${allowed.join(', ')}`, { hint: `e.g. ${flag} ${allowed[1]}` });
}
