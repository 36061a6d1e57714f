// What the kernel knows of a plugin (id, options, roles, requirements) and the hook helpers plugins tap.
// The runtimes' setup functions are added to this shape in core/plugin.ts, so the kernel never imports a runtime.
import type { z } from 'zod';
import type { Hook } from 'tapable';
import { BurrowError } from './errors.ts';
import type { Role } from './roles.ts';

export type MaybePromise<T> = T | Promise<T>;
/** What setup may hand back: cleanup run when the runtime stops, in reverse plugin order. */
export type Dispose = () => MaybePromise<void>;

/**
 * The runtime-independent part of a plugin definition. Setup functions are keyed by runtime name
 * (`edge`, `connector`, `cli`); core/plugin.ts gives them their types.
 */
export interface PluginManifest<Options = unknown> {
  /** Stable id, `kebab-case`; built-ins are named after their folder under `plugins/`. */
  readonly id: string;
  readonly description?: string;
  /** Validates (and fills defaults of) the options given in the config file. */
  readonly options?: z.ZodType<Options, any>;
  /**
   * Roles this plugin fills (see core/kernel/roles.ts). A plugin listed in the config that fills a
   * role a default plugin fills takes that default's slot.
   */
  readonly provides?: readonly Role[];
  /** Ids of plugins this one needs; loading fails with a clear error when one of them is missing. */
  readonly requires?: readonly string[];
  /**
   * True when its connector setup does nothing but add request middleware (`api.use`) built from its options,
   * keeping no state worth more than a reload: a config reload then sets it up again with the options the file
   * gives, and adding or removing its entry applies at once. Leave it unset for a plugin that listens, watches,
   * taps hooks or provides services; a change to its `plugins` entry then takes a restart.
   */
  readonly middlewareOnly?: boolean;
}

export class PluginError extends Error {
  readonly code = 'BURROW_ERR_PLUGIN';
  constructor(
    readonly pluginId: string,
    readonly where: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`plugin "${pluginId}" failed in ${where}: ${reason}`, { cause });
  }
}

/**
 * Freezes a hooks object and makes every tap report failures with the tapping plugin's name and the
 * hook, the way webpack and Rollup attribute plugin errors. Tap names are plugin ids by convention.
 */
export function declareHooks<H extends Record<string, Hook<any, any>>>(hooks: H): Readonly<H> {
  for (const [hookName, hook] of Object.entries(hooks)) {
    hook.intercept({
      register(tap) {
        const fn = tap.fn as (...args: unknown[]) => unknown;
        const wrapError = (error: unknown) =>
          passesThrough(error) ? error : new PluginError(tap.name, `hook ${hookName}`, error);
        if (tap.type === 'promise') {
          tap.fn = (...args: unknown[]) => {
            try {
              return Promise.resolve(fn(...args)).catch((error) => Promise.reject(wrapError(error)));
            } catch (error) {
              return Promise.reject(wrapError(error));
            }
          };
        } else if (tap.type === 'async') {
          tap.fn = (...args: unknown[]) => {
            const callback = args.pop() as (error?: unknown, result?: unknown) => void;
            return fn(...args, (error?: unknown, result?: unknown) => callback(error ? wrapError(error) : error, result));
          };
        } else if (tap.type === 'sync') {
          tap.fn = (...args: unknown[]) => {
            try {
              return fn(...args);
            } catch (error) {
              throw wrapError(error);
            }
          };
        }
        return tap;
      },
    });
  }
  return Object.freeze(hooks);
}

/**
 * Errors that reach the user as they are, not as a plugin crash: a PluginError already naming its plugin;
 * a BurrowError (ConfigError and the other catalogued errors: a bad token, a missing cert.pem), which
 * already says what the user got wrong and how to fix it; and an error a hook throws on purpose to refuse
 * something (`expected: true`: a registration, a route).
 */
export function passesThrough(error: unknown): boolean {
  if (error instanceof PluginError || error instanceof BurrowError) return true;
  return typeof error === 'object' && error !== null && (error as { expected?: boolean }).expected === true;
}
