// Structured logs with pino: pretty on a terminal, JSON lines otherwise.
import { pino, type Logger, type LoggerOptions as PinoOptions } from 'pino';
import { redactSecrets } from './redact.ts';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Force pretty (true) or JSON (false); by default pretty when stderr is a terminal. */
  pretty?: boolean;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;

/** What `--log-level` / `--log-format` asked for: they win over config files and the defaults of each command. */
const overrides: { level?: string; format?: (typeof LOG_FORMATS)[number] } = {};

/** Sets the command line's `--log-level` and `--log-format` for every logger created after it. */
export function setLogOverrides(next: { level?: string; format?: (typeof LOG_FORMATS)[number] }): void {
  Object.assign(overrides, next);
}

/**
 * Level: `--log-level`, else the caller's (a config's `loglevel`), else BURROW_LOG_LEVEL, else info.
 * Format: `--log-format`, else BURROW_LOG_FORMAT, else the caller's, else pretty on a terminal and JSON otherwise.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = overrides.level ?? options.level ?? process.env.BURROW_LOG_LEVEL ?? 'info';
  const format = overrides.format ?? process.env.BURROW_LOG_FORMAT;
  const pretty = format === 'pretty' ? true : format === 'json' ? false : (options.pretty ?? Boolean(process.stderr.isTTY));
  // Every line, JSON or pretty, is scrubbed of credentials before it is written (see redact.ts).
  const hooks: PinoOptions['hooks'] = { streamWrite: redactSecrets };
  if (pretty) {
    return pino({
      level,
      hooks,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino({ level, base: undefined, hooks }, jsonLines());
}

let stderrLines: { write(line: string): void } | undefined;

/**
 * Where JSON lines go: stderr, written once per turn of the event loop. The lines a busy runtime logs in one turn
 * (an access line per request) leave in one write instead of one each; none waits past the turn it was logged in.
 * One destination for every logger of the process; what is pending at exit is handed over before pino flushes.
 */
function jsonLines(): { write(line: string): void } {
  if (stderrLines) return stderrLines;
  const destination = pino.destination({ fd: 2, sync: false });
  let pending = '';
  const flush = (): void => {
    const out = pending;
    pending = '';
    if (out !== '') destination.write(out);
  };
  process.prependListener('exit', flush);
  stderrLines = {
    write(line: string): void {
      if (pending === '') setImmediate(flush);
      pending += line;
    },
  };
  return stderrLines;
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
