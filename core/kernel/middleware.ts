// Composes per-request middleware into one `(ctx) => Promise<void>` chain, Koa/Caddy style.
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
