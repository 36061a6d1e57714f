// Composes per-request middleware into one `(ctx) => Promise<void>` chain, Koa/Caddy style.
import { PluginError } from './plugin.ts';
export type Next = () => Promise<void>;
export type Middleware<Ctx> = (ctx: Ctx, next: Next) => Promise<void> | void;

export function compose<Ctx>(middleware: readonly Middleware<Ctx>[], final: (ctx: Ctx) => Promise<void>): (ctx: Ctx) => Promise<void> {
  if (middleware.length === 0) return final;
  return (ctx) => {
    let last = -1;
    const dispatch = async (i: number): Promise<void> => {
      if (i <= last) throw new Error('next() called more than once by a middleware');
      last = i;
      if (i === middleware.length) return final(ctx);
      await middleware[i]!(ctx, () => dispatch(i + 1));
    };
    return dispatch(0);
  };
}

/**
 * Wraps a plugin's middleware so that what it throws names the plugin (PluginError), while errors
 * that only pass through it from further down the chain, and deliberate ones (`passThrough`),
 * keep their identity.
 */
export function attributeErrors<Ctx>(pluginId: string, middleware: Middleware<Ctx>, passThrough: (error: unknown) => boolean = () => false): Middleware<Ctx> {
  return async (ctx, next) => {
    let downstream: unknown = noError;
    try {
      await middleware(ctx, () =>
        next().catch((error: unknown) => {
          downstream = error;
          throw error;
        }),
      );
    } catch (error) {
      if (error === downstream || error instanceof PluginError || passThrough(error)) throw error;
      throw new PluginError(pluginId, 'middleware', error);
    }
  };
}

const noError = Symbol('no error');
