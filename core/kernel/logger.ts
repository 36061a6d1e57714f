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

/** How long a JSON line may wait for others to share its write (nginx's access_log `flush=`), and how many bytes may wait. */
const BATCH_MS = 25;
const BATCH_BYTES = 32 * 1024;

/**
 * Where JSON lines go: stderr, in batches. The lines a busy runtime logs within BATCH_MS (an access line per
 * request) leave in one write instead of one each; none waits longer, and what is pending at exit is handed over
 * before pino flushes its destination. One destination for every logger of the process.
 */
function jsonLines(): { write(line: string): void } {
  if (stderrLines) return stderrLines;
  const destination = pino.destination({ fd: 2, sync: false });
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const out = pending;
    pending = '';
    if (out !== '') destination.write(out);
  };
  process.prependListener('exit', flush);
  stderrLines = {
    write(line: string): void {
      pending += line;
      if (pending.length >= BATCH_BYTES) flush();
      else if (timer === undefined) timer = setTimeout(flush, BATCH_MS).unref();
    },
  };
  return stderrLines;
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
