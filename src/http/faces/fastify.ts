/**
 * serveStatic as a Fastify route handler: the reply is hijacked
 * (`reply.hijack()`), so Fastify leaves the raw response to serveStatic,
 * which writes the head through Node and the body with sendfile.
 *
 *   import Fastify from 'fastify';
 *   import { fastifyStatic } from 'zerocopy';
 *   const app = Fastify();
 *   const assets = fastifyStatic('public', { prefix: '/assets/' });
 *   app.get('/assets/*', assets);
 *   app.addHook('onClose', () => assets.close());
 *   await app.listen({ port: 8080, host: '127.0.0.1' });
 *
 * What hijacking means: Fastify's onSend/onResponse hooks and its reply
 * serialization do not run for these responses. Headers set on the reply
 * before the handler (hooks such as @fastify/cors) are copied onto the raw
 * response first. Requests that match no file get serveStatic's own 404
 * page, not Fastify's not-found handler.
 *
 * Fastify is not a dependency: the types below are the few members used.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { createError } from '../../errors.js';
import { serveStatic } from './middleware.js';
import type { ServeStaticOptions } from '../pipeline/static-options.js';

/** The parts of a Fastify request the handler touches. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
}
/** The parts of a Fastify reply the handler touches. */
export interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): unknown;
  getHeaders(): Record<string, unknown>;
}

/** serveStatic's options plus the route's mount prefix. */
export interface FastifyStaticOptions extends ServeStaticOptions {
  /**
   * URL prefix the route is mounted at (default '/'), e.g. '/assets/' for a
   * route '/assets/*': it is stripped from the raw URL before the path is
   * resolved, the way Express strips a mount path.
   */
  prefix?: string;
}

/** A Fastify handler, plus `close()` to release the handler's fds (call it from onClose). */
export interface FastifyStaticHandler {
  (request: FastifyRequestLike, reply: FastifyReplyLike): Promise<void>;
  close(): Promise<void>;
}

/** A Fastify route handler serving `root` under `options.prefix`. */
export function fastifyStatic(root: string, options?: FastifyStaticOptions | null): FastifyStaticHandler {
  const { prefix = '/', ...staticOptions } = options ?? {};
  if (typeof prefix !== 'string' || !prefix.startsWith('/')) throw createError('ZC_ERR_INVALID_ARG', ['options.prefix', "a path starting with '/'", prefix]);
  const mount = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const handler = serveStatic(root, staticOptions);
  const route = async (request: FastifyRequestLike, reply: FastifyReplyLike): Promise<void> => {
    reply.hijack();
    const req = request.raw as IncomingMessage & { originalUrl?: string };
    const res = reply.raw;
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined && !res.hasHeader(name)) res.setHeader(name, value as string | number | readonly string[]);
    }
    const url = req.url ?? '/';
    if (mount !== '' && (url === mount || url.startsWith(`${mount}/`) || url.startsWith(`${mount}?`))) {
      req.originalUrl ??= url;
      const rest = url.slice(mount.length);
      req.url = rest.startsWith('/') ? rest : `/${rest}`;
    }
    await handler(req, res);
  };
  route.close = () => handler.close();
  return route;
}
