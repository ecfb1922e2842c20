/**
 * serveStatic for Koa: `app.use(koaStatic('public', options))`. Koa owns the
 * response by default (it writes `ctx.body` after the middleware chain), so
 * the adapter sets `ctx.respond = false` while serveStatic answers through
 * `ctx.res` with a sendfile body; a request it does not answer (fallthrough)
 * gets `ctx.respond` back and goes on down the chain, as with koa-static.
 *
 *   import Koa from 'koa';
 *   import { koaStatic } from 'zerocopy';
 *   const app = new Koa();
 *   app.use(koaStatic('public', { maxAge: '1h' }));
 *   app.use((ctx) => { ctx.body = 'not a file'; });
 *   app.listen(8080, '127.0.0.1');
 *
 * Koa is not a dependency: the types below are the few members used.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { serveStatic, type StaticHandler } from './middleware.js';
import type { ServeStaticOptions } from '../pipeline/static-options.js';

/** The part of a Koa context the adapter touches. */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  respond?: boolean;
}

/** A Koa middleware, plus `close()` to release the handler's fds. */
export interface KoaStaticMiddleware {
  (ctx: KoaContextLike, next: () => Promise<unknown>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Koa middleware serving `root` (options as serveStatic's). Resolves when
 * the response is complete (so an outer logger's timing covers the body).
 * With `fallthrough: false`, a request it cannot answer throws an error with
 * `status` and `expose`, which Koa turns into that status.
 */
export function koaStatic(root: string, options?: ServeStaticOptions | null): KoaStaticMiddleware {
  const handler: StaticHandler = serveStatic(root, options);
  const middleware = async (ctx: KoaContextLike, next: () => Promise<unknown>): Promise<void> => {
    let passed = false;
    let forwarded: unknown;
    ctx.respond = false;
    await handler(ctx.req, ctx.res, (error?: unknown) => {
      passed = true;
      forwarded = error;
    });
    if (!passed) return;
    ctx.respond = true;
    if (forwarded !== undefined) throw forwarded;
    await next();
  };
  middleware.close = () => handler.close();
  return middleware;
}
