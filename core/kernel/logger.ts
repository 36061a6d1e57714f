// Structured logs with pino: pretty on a terminal, JSON lines otherwise.
import { pino, type Logger, type LoggerOptions as PinoOptions } from 'pino';
import { redactSecrets } from './redact.ts';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Force pretty (true) or JSON (false); by default pretty when stderr is a terminal. */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.BURROW_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  // Every line, JSON or pretty, is scrubbed of credentials before it is written (see redact.ts).
  const hooks: PinoOptions['hooks'] = { streamWrite: redactSecrets };
  if (pretty) {
    return pino({
      level,
      hooks,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino({ level, base: undefined, hooks }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
