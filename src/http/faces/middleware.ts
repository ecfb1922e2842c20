/**
 * serveStatic(root, options): a `(req, res, next?)` handler for node:http,
 * Connect and Express, a drop-in for serve-static whose bodies go out with
 * sendfile(2). One request, one flow:
 *
 *   method → resolve (pure jail) → dotfiles → open beneath the root (cached)
 *     → directory? 301 /dir/ | index.html | listing
 *     → precompressed sibling? → file-response.ts (validators, 412/304,
 *       Range 206/416/multipart, headers, body) → release the fd
 *
 * Who answers what (serve-static's rules):
 *   - GET and HEAD only; other methods: next() with `fallthrough`, else 405
 *     with `Allow: GET, HEAD`.
 *   - Client errors before a file is found (404, 403, 400): next() with
 *     `fallthrough` (the default) so a later handler can answer; without it,
 *     next(err) with err.status. Server errors: next(err).
 *   - Without `next` (plain node:http), this handler answers everything
 *     itself with a fixed error page (never err.message).
 *   - Once a file was chosen, its response is ours: a failure after the head
 *     went out destroys the connection (write-body.ts).
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

import { createError } from '../../errors.js';
import { createHttpError, type StaticHttpError } from './http-error.js';
import { ENCODING_PREFERENCE, ENCODING_SUFFIX, negotiateEncoding, type PrecompressedEncoding } from '../semantics/accept-encoding.js';
import { FileCache, type OpenFile } from '../pipeline/file-cache.js';
import { finishResponsesAfterClientFin } from './half-close.js';
import { respondFromMemory, respondWithFile } from '../pipeline/file-response.js';
import { closeRoot, openRoot, type Root } from '../../fs/open-beneath.js';
import { buildErrorPage, buildListingPage, buildRedirectPage, type GeneratedPage, type ListingEntry } from '../pipeline/page.js';
import { formatRedirectLocation, hasDotSegment, resolveSafePath, type SafePath } from '../semantics/resolve-path.js';
import { canonicalHeaderName } from '../semantics/header-case.js';
import { recordResponseBody } from '../pipeline/response-info.js';
import { mapErrorToStatus } from '../pipeline/status.js';
import { normalizeOptions, type ServeStaticOptions } from '../pipeline/static-options.js';

/** What the handler returns when it answered synchronously. */
const ANSWERED: Promise<void> = Promise.resolve();

export type { StaticHttpError };

/** Connect/Express `next`: no argument passes the request on, an error goes to error handlers. */
export type Next = (error?: unknown) => void;

/**
 * The handler serveStatic returns. The promise it returns (ignored by
 * node:http and Connect; awaited by Express 5 and the Koa adapter) resolves
 * once the response is complete, failed, or passed on with `next`; it never
 * rejects.
 */
export interface StaticHandler {
  (req: IncomingMessage, res: ServerResponse, next?: Next): Promise<void>;
  /** Closes the cached fds and the root fd; responses in flight keep theirs until they end. */
  close(): Promise<void>;
  /** Resolves with the open-file cache once the root is open (hit/miss counters for tests and metrics). */
  fileCache(): Promise<FileCache>;
}

/** What a request resolved to, before any byte is written. */
type Resolution =
  | { kind: 'file'; file: OpenFile; relative: string }
  | { kind: 'redirect' }
  | { kind: 'listing'; dir: OpenFile }
  | { kind: 'error'; status: number; cause?: unknown };

// Errors that mean "nothing there": the next candidate may be tried.
function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function join(relative: string, name: string): string {
  return relative === '' ? name : `${relative}/${name}`;
}

function hasExtension(segments: readonly string[]): boolean {
  const last = segments[segments.length - 1];
  return last !== undefined && last.lastIndexOf('.') > 0;
}

/** Writes a generated page (error, redirect, listing); HEAD gets its head only. */
export function sendPage(req: IncomingMessage, res: ServerResponse, page: GeneratedPage, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Headers another handler set for a file (Content-Encoding …) must not describe the page.
  for (const name of ['content-encoding', 'content-range', 'content-disposition', 'etag', 'last-modified']) res.removeHeader(name);
  for (const [name, value] of Object.entries({ ...page.headers, ...extraHeaders })) res.setHeader(canonicalHeaderName(name), value);
  res.statusCode = page.status;
  const isHead = req.method === 'HEAD';
  res.end(isHead ? undefined : page.body);
  recordResponseBody(res, { bytes: isHead ? 0 : page.body.length, method: isHead ? 'none' : 'memory' });
}

/**
 * Checks serveStatic's root the way serve-static does, with its messages in
 * ours (apps match on them): a falsy root → "root path required", any other
 * non-string → "root path must be a string". ZC_ERR_INVALID_ARG, a TypeError.
 */
export function checkRoot(root: unknown): asserts root is string {
  if (!root) throw createError('ZC_ERR_INVALID_ARG', ['root', 'a non-empty string (root path required)', root]);
  if (typeof root !== 'string') throw createError('ZC_ERR_INVALID_ARG', ['root', 'a string (root path must be a string)', root]);
}

/**
 * Serves the directory `root` (see the module comment); options as in
 * ServeStaticOptions (null or undefined: all defaults, as serve-static).
 */
export function serveStatic(root: string, options?: ServeStaticOptions | null): StaticHandler {
  checkRoot(root);
  const opts = normalizeOptions(options);
  // The root is opened once; until that succeeds (a directory created after
  // the handler, as serve-static allows), each request tries again and a
  // missing root answers 404 like a missing file.
  let ready: Promise<{ root: Root; cache: FileCache }> | undefined;
  // The same, once open: what the synchronous fast path needs.
  let opened: { root: Root; cache: FileCache } | undefined;
  const open = (): Promise<{ root: Root; cache: FileCache }> => {
    ready ??= openRoot(root).then((openedRoot) => (opened = { root: openedRoot, cache: new FileCache(openedRoot, opts.fileCache) }));
    const attempt = ready;
    attempt.catch(() => {
      if (ready === attempt) ready = undefined;
    });
    return attempt;
  };
  void open().catch(() => {});
  let closed = false;

  const handler = (req: IncomingMessage, res: ServerResponse, next?: Next): Promise<void> => {
    finishResponsesAfterClientFin(req);
    if (opened !== undefined && !closed && serveFromMemory(req, res, opened.cache)) return ANSWERED;
    return handle(req, res, next).catch((error: unknown) => {
      // Only a bug can get here (every expected failure is answered): never leave the client hanging.
      if (next) next(error);
      else if (!res.headersSent) sendPage(req, res, buildErrorPage(500));
      else res.destroy();
    });
  };

  /**
   * A GET or HEAD for a small file the cache holds in memory, fresh, with
   * nothing in the request or on `res` that could change the answer: served
   * synchronously with no promise, no await and no header assembly (issue
   * 11: Node's floor for a 4 KiB response). Anything else returns false
   * untouched, for the general path. Freshness is the cache's usual check.
   */
  function serveFromMemory(req: IncomingMessage, res: ServerResponse, cache: FileCache): boolean {
    const method = req.method;
    if ((method !== 'GET' && method !== 'HEAD') || opts.precompressed.length > 0 || opts.setHeaders !== undefined) return false;
    const target = resolveSafePath(req.url ?? '');
    if (target.kind === 'error' || target.hasTrailingSlash || target.segments.length === 0) return false;
    if (opts.dotfiles !== 'allow' && hasDotSegment(target.segments)) return false;
    const hit = cache.peekContent(target.relativePath, { followSymlinks: opts.followSymlinks });
    if (hit === undefined || !hit.stats.isFile()) return false;
    return respondFromMemory(req, res, {
      fd: -1,
      stats: hit.stats,
      mtimeNs: hit.mtimeNs,
      content: hit.content,
      path: '',
      typeName: target.relativePath,
    }, opts);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, next: Next | undefined): Promise<void> {
    const method = req.method ?? 'GET';
    // Paths in next(err) messages are shown relative to it (http-error.ts).
    let rootRealPath: string | undefined;
    if (method !== 'GET' && method !== 'HEAD') {
      if (next && opts.fallthrough) return next();
      sendPage(req, res, buildErrorPage(405), { allow: 'GET, HEAD' });
      return;
    }
    const fail = (status: number, cause?: unknown): void => {
      if (next && opts.fallthrough && status < 500) return next();
      if (next) return next(createHttpError(status, cause, rootRealPath));
      sendPage(req, res, buildErrorPage(status));
    };

    const target = resolveSafePath(req.url ?? '');
    if (target.kind === 'error') return fail(target.status);
    if (opts.dotfiles !== 'allow' && hasDotSegment(target.segments)) return fail(opts.dotfiles === 'deny' ? 403 : 404);
    let wantsDirectory = target.hasTrailingSlash;
    const originalUrl = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
    // Mounted at /static, a request for /static arrives as `/`: redirect it
    // to /static/ so relative links resolve (serve-static does the same).
    if (target.segments.length === 0 && originalUrl !== undefined && originalUrl.split('?')[0]!.endsWith('/') === false) wantsDirectory = false;

    let state;
    try {
      state = await open();
    } catch (error) {
      return fail(mapErrorToStatus(error), error);
    }
    rootRealPath = state.root.realPath;
    if (closed) return fail(503);
    const resolution = await resolve(state.cache, target, wantsDirectory);
    switch (resolution.kind) {
      case 'error':
        return fail(resolution.status, resolution.cause);
      case 'redirect':
        return redirect(req, res, target, originalUrl);
      case 'listing':
        try {
          await sendListing(req, res, resolution.dir, state.root, target);
        } finally {
          resolution.dir.release();
        }
        return;
      case 'file':
        return serveFile(req, res, state.cache, state.root, resolution.file, resolution.relative);
    }
  }

  function statusOf(error: unknown): number {
    return mapErrorToStatus(error, { followSymlinks: opts.followSymlinks });
  }

  async function acquire(cache: FileCache, relative: string): Promise<OpenFile> {
    return cache.acquire(relative, { followSymlinks: opts.followSymlinks });
  }

  // Opens what the path names; regular files only (a FIFO, device or socket
  // in the root is "not found", as nginx answers for non-regular files).
  async function resolve(cache: FileCache, target: SafePath, wantsDirectory: boolean): Promise<Resolution> {
    const relative = target.relativePath;
    const errorOf = (error: unknown): Resolution => ({ kind: 'error', status: statusOf(error), cause: error });
    if (wantsDirectory) {
      for (const name of opts.index) {
        try {
          const file = await acquire(cache, join(relative, name));
          if (file.stats.isFile()) return { kind: 'file', file, relative: join(relative, name) };
          file.release();
        } catch (error) {
          if (!isMissing(error)) return errorOf(error);
        }
      }
      let dir: OpenFile;
      try {
        dir = await acquire(cache, relative);
      } catch (error) {
        return isMissing(error) ? spaFallback(cache, target, error) : errorOf(error);
      }
      if (dir.stats.isDirectory() && opts.listing) return { kind: 'listing', dir };
      dir.release();
      return { kind: 'error', status: 404 };
    }
    let file: OpenFile;
    try {
      file = await acquire(cache, relative);
    } catch (error) {
      if (!isMissing(error)) return errorOf(error);
      const found = await tryExtensions(cache, target);
      return found ?? spaFallback(cache, target, error);
    }
    if (file.stats.isFile()) return { kind: 'file', file, relative };
    const isDirectory = file.stats.isDirectory();
    file.release();
    if (isDirectory && opts.redirect) return { kind: 'redirect' };
    return { kind: 'error', status: 404 };
  }

  // send's `extensions`: only for a missing, extension-less, non-directory path.
  async function tryExtensions(cache: FileCache, target: SafePath): Promise<Resolution | undefined> {
    if (opts.extensions.length === 0 || target.segments.length === 0 || hasExtension(target.segments)) return undefined;
    for (const ext of opts.extensions) {
      const relative = `${target.relativePath}.${ext}`;
      try {
        const file = await acquire(cache, relative);
        if (file.stats.isFile()) return { kind: 'file', file, relative };
        file.release();
      } catch (error) {
        if (!isMissing(error)) return { kind: 'error', status: statusOf(error), cause: error };
      }
    }
    return undefined;
  }

  // Client-side routing: /app/settings (no such file, no extension) gets the root index.html.
  async function spaFallback(cache: FileCache, target: SafePath, cause: unknown): Promise<Resolution> {
    const index = opts.index[0];
    if (!opts.spaFallback || index === undefined || hasExtension(target.segments)) return { kind: 'error', status: 404, cause };
    try {
      const file = await acquire(cache, index);
      if (file.stats.isFile()) return { kind: 'file', file, relative: index };
      file.release();
    } catch {
      // no index.html at the root: a plain 404
    }
    return { kind: 'error', status: 404, cause };
  }

  function redirect(req: IncomingMessage, res: ServerResponse, target: SafePath, originalUrl: string | undefined): void {
    // Relative to the mount point: rebuild from the original URL's segments.
    let segments = target.segments;
    let query = target.query;
    if (originalUrl !== undefined) {
      const original = resolveSafePath(originalUrl);
      if (original.kind === 'ok') ({ segments, query } = original);
    }
    sendPage(req, res, buildRedirectPage(formatRedirectLocation(segments, query, true)));
  }

  async function sendListing(req: IncomingMessage, res: ServerResponse, dir: OpenFile, root: Root, target: SafePath): Promise<void> {
    // Read the directory we opened (through its fd on Linux), not whatever
    // the path names by now: the jail check was made on this fd.
    const dirPath = process.platform === 'linux' ? `/proc/self/fd/${dir.fd}` : path.join(root.realPath, target.relativePath);
    const entries: ListingEntry[] = [];
    for (const entry of await fs.promises.readdir(dirPath, { withFileTypes: true })) {
      if (opts.dotfiles !== 'allow' && entry.name.startsWith('.')) continue;
      entries.push({ name: entry.name, isDirectory: entry.isDirectory() });
    }
    sendPage(req, res, buildListingPage(target.segments, entries));
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, cache: FileCache, root: Root, identity: OpenFile, relative: string): Promise<void> {
    let chosen = identity;
    let encoding: PrecompressedEncoding | undefined;
    const siblings: OpenFile[] = [];
    try {
      if (opts.precompressed.length > 0) {
        ({ chosen, encoding } = await pickPrecompressed(req, cache, identity, relative, siblings));
      }
      await respondWithFile(req, res, {
        fd: chosen.fd,
        stats: chosen.stats,
        mtimeNs: chosen.mtimeNs,
        content: chosen.content,
        isUnchanged: chosen.isUnchanged,
        path: path.join(root.path, relative),
        typeName: relative,
        encoding,
        vary: opts.precompressed.length > 0,
      }, opts);
    } finally {
      identity.release();
      for (const sibling of siblings) sibling.release();
    }
  }

  // Opens the siblings the client accepts (x.br, x.gz) and picks the best one that exists.
  async function pickPrecompressed(req: IncomingMessage, cache: FileCache, identity: OpenFile, relative: string, opened: OpenFile[]): Promise<{ chosen: OpenFile; encoding: PrecompressedEncoding | undefined }> {
    const header = req.headers['accept-encoding'];
    const found: PrecompressedEncoding[] = [];
    const byEncoding = new Map<PrecompressedEncoding, OpenFile>();
    for (const encoding of ENCODING_PREFERENCE) {
      if (!opts.precompressed.includes(encoding) || negotiateEncoding(header, [encoding]) === undefined) continue;
      try {
        const sibling = await acquire(cache, relative + ENCODING_SUFFIX[encoding]);
        opened.push(sibling);
        if (!sibling.stats.isFile()) continue;
        found.push(encoding);
        byEncoding.set(encoding, sibling);
      } catch {
        // no such sibling (or not readable): the identity file will do
      }
    }
    const encoding = negotiateEncoding(header, found);
    return encoding === undefined ? { chosen: identity, encoding } : { chosen: byEncoding.get(encoding)!, encoding };
  }

  handler.close = async (): Promise<void> => {
    closed = true;
    const state = await ready?.catch(() => undefined);
    if (!state) return;
    state.cache.clear();
    closeRoot(state.root);
  };
  handler.fileCache = async (): Promise<FileCache> => (await open()).cache;
  return handler;
}
