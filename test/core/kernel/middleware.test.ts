// Tests for middleware composition: onion order, short-circuiting, errors, and next() called twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compose, type Middleware } from '../../../core/kernel/middleware.ts';

interface Ctx {
  log: string[];
}

/** A middleware that logs before and after awaiting next(). */
const around = (name: string): Middleware<Ctx> => async (ctx, next) => {
  ctx.log.push(`${name} in`);
  await next();
  ctx.log.push(`${name} out`);
};

const final = async (ctx: Ctx) => {
  ctx.log.push('final');
};

describe('compose', () => {
  const orders: Array<[name: string, middleware: Middleware<Ctx>[], expected: string[]]> = [
    ['no middleware runs only the final handler', [], ['final']],
    ['one middleware wraps the final handler', [around('a')], ['a in', 'final', 'a out']],
    ['onion order: first in, last out', [around('a'), around('b'), around('c')], ['a in', 'b in', 'c in', 'final', 'c out', 'b out', 'a out']],
    [
      'a synchronous middleware that returns next()',
      [around('a'), (ctx, next) => {
        ctx.log.push('sync');
        return next();
      }],
      ['a in', 'sync', 'final', 'a out'],
    ],
    [
      'async work between steps keeps the order',
      [
        async (ctx, next) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          ctx.log.push('slow in');
          await next();
          await new Promise((resolve) => setImmediate(resolve));
          ctx.log.push('slow out');
        },
        around('b'),
      ],
      ['slow in', 'b in', 'final', 'b out', 'slow out'],
    ],
  ];
  for (const [name, middleware, expected] of orders) {
    it(name, async () => {
      const ctx: Ctx = { log: [] };
      await compose(middleware, final)(ctx);
      assert.deepEqual(ctx.log, expected);
    });
  }

  it('with no middleware, returns the final handler itself', () => {
    assert.equal(compose<Ctx>([], final), final);
  });

  it('a middleware that does not call next() short-circuits the rest and the final handler', async () => {
    const ctx: Ctx = { log: [] };
    const stop: Middleware<Ctx> = (c) => {
      c.log.push('answered');
    };
    await compose([around('a'), stop, around('never')], final)(ctx);
    assert.deepEqual(ctx.log, ['a in', 'answered', 'a out']);
  });

  it('each run gets its own context, and the chain can run many times', async () => {
    const run = compose([around('a')], final);
    const one: Ctx = { log: [] };
    const two: Ctx = { log: [] };
    await Promise.all([run(one), run(two)]);
    await run(one);
    assert.deepEqual(two.log, ['a in', 'final', 'a out']);
    assert.deepEqual(one.log, ['a in', 'final', 'a out', 'a in', 'final', 'a out']);
  });

  it('next() called twice rejects', async () => {
    const twice: Middleware<Ctx> = async (_ctx, next) => {
      await next();
      await next();
    };
    const ctx: Ctx = { log: [] };
    await assert.rejects(compose([twice, around('b')], final)(ctx), /next\(\) called more than once/);
    // The chain below ran once, not twice.
    assert.deepEqual(ctx.log, ['b in', 'final', 'b out']);
  });

  it('next() called twice in the last middleware rejects too', async () => {
    const ctx: Ctx = { log: [] };
    const twice: Middleware<Ctx> = async (_ctx, next) => {
      await next();
      await next();
    };
    await assert.rejects(compose([twice], final)(ctx), /more than once/);
    assert.deepEqual(ctx.log, ['final']);
  });

  it('an error in the final handler reaches the middleware, which can handle it', async () => {
    const ctx: Ctx = { log: [] };
    const guard: Middleware<Ctx> = async (c, next) => {
      try {
        await next();
      } catch (error) {
        c.log.push(`caught ${(error as Error).message}`);
      }
    };
    await compose([guard, around('b')], async () => {
      throw new Error('origin down');
    })(ctx);
    assert.deepEqual(ctx.log, ['b in', 'caught origin down']);
  });

  it('an error thrown by a middleware rejects the chain', async () => {
    const ctx: Ctx = { log: [] };
    const broken: Middleware<Ctx> = () => {
      throw new Error('middleware broke');
    };
    await assert.rejects(compose([around('a'), broken], final)(ctx), /middleware broke/);
    assert.deepEqual(ctx.log, ['a in']);
  });
});
