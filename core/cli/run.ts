// Shared CLI plumbing: error reporting and signals for graceful shutdown.
import { BurrowError, ConfigError } from '../kernel/errors.ts';
import { EdgeApiError } from '../edge-client.ts';
import { PluginError } from '../kernel/plugin.ts';

/** Prints an error the way a user can act on it, and exits non-zero. */
export function reportAndExit(error: unknown): never {
  const known = error instanceof ConfigError || error instanceof BurrowError || error instanceof EdgeApiError || error instanceof PluginError || (error instanceof Error && 'hint' in error);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  if (!known && error instanceof Error && process.env.BURROW_DEBUG) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}

export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      reportAndExit(error);
    }
  };
}

/**
 * First SIGINT/SIGTERM: graceful stop within the grace period. Second: stop at once.
 */
export function onShutdownSignals(graceful: () => Promise<void>, immediate: () => void): void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(`\n${signal} again: stopping now\n`);
      immediate();
      process.exit(130);
    }
    signalled = true;
    process.stderr.write(`\n${signal}: finishing requests in flight (send ${signal} again to stop now)\n`);
    graceful().then(
      () => process.exit(0),
      (error) => reportAndExit(error),
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
