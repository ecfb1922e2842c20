/**
 * sendFileResponse(req, res, path, options): answer one request with one
 * file, like Express's `res.sendFile`, with the same HTTP semantics as
 * serveStatic (validators, 304/412, Range, HEAD) and a sendfile body.
 * Exported from the package as `sendFileResponse`: the name `sendFile` is
 * the socket-level transfer.
 *
 *   http.createServer((req, res) => {
 *     sendFileResponse(req, res, 'video.mp4', { root: '/srv/media', maxAge: '1h' })
 *       .catch((err) => res.writeHead(err.status ?? 500).end());
 *   });
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

import { createError } from '../../errors.js';
import { fdHasSameContent, hasExactChangeTimes, isProvable, readStatsAndVersion } from '../../fs/file-version.js';
import { respondWithFile } from '../pipeline/file-response.js';
import { finishResponsesAfterClientFin } from './half-close.js';
import { createHttpError } from './http-error.js';
import { closeDescriptor, openDescriptor } from '../../fs/descriptors.js';
import { openBeneath } from '../../fs/open-beneath.js';
import { hasDotSegment, resolveSafePath } from '../semantics/resolve-path.js';
import { leaseRoot } from '../pipeline/root-cache.js';
import { mapErrorToStatus } from '../pipeline/status.js';
import { normalizeOptions, type ServeStaticOptions } from '../pipeline/static-options.js';

/** The options of serveStatic that apply to one file, plus `root` and `headers`. */
export interface SendFileResponseOptions extends Pick<ServeStaticOptions,
  'dotfiles' | 'etag' | 'lastModified' | 'maxAge' | 'immutable' | 'cacheControl' | 'acceptRanges' | 'maxRanges' |
  'setHeaders' | 'followSymlinks' | 'headerMode' | 'method'> {
  /**
   * Directory `path` is relative to. With it, `path` is a URL-style path
   * (`/` separators, may be percent-encoded as in a URL) resolved beneath
   * the root like serveStatic's (no `..`, no symlink escape). Without it,
   * `path` must be absolute and is opened as is.
   */
  root?: string;
  /** Headers to set on the response before ours (Express's `headers` option). */
  headers?: Record<string, string | number | readonly string[]>;
}


/**
 * Answers `req` with the file at `filePath` and resolves once the response
 * is complete (or has failed mid-body, in which case the connection was
 * destroyed and the promise still resolves: the failure is in
 * responseBodyOf(res)). Rejects, without touching `res`, when no response
 * was started: a ZC_ERR_HTTP_STATUS error whose `status` says what to
 * answer (404 missing, not a regular file, or a dotfile with `dotfiles`
 * 'ignore'; 403 for 'deny', permissions, a symlink out of `root`, or a
 * `path` that would leave `root`; 500 otherwise), shaped like http-errors
 * (http-error.ts), or ZC_ERR_INVALID_ARG
 * (a TypeError) for a relative `path` without `root` or a bad option.
 * The file is opened per call and closed when the response ends.
 */
export async function sendFileResponse(req: IncomingMessage, res: ServerResponse, filePath: string, options: SendFileResponseOptions = {}): Promise<void> {
  finishResponsesAfterClientFin(req);
  if (typeof filePath !== 'string' || filePath === '') throw createError('ZC_ERR_INVALID_ARG', ['path', 'a non-empty string', filePath]);
  const { root, headers, ...rest } = options;
  const opts = normalizeOptions(rest);
  if (root === undefined && !path.isAbsolute(filePath)) {
    throw createError('ZC_ERR_INVALID_ARG', ['path', 'an absolute path, or a path relative to options.root', filePath]);
  }

  let fd: number;
  let absolute: string;
  let segments: string[];
  if (root !== undefined) {
    const target = resolveSafePath(filePath.startsWith('/') ? filePath : `/${filePath}`);
    if (target.kind === 'error') throw createHttpError(target.status);
    segments = target.segments;
    if (opts.dotfiles !== 'allow' && hasDotSegment(segments)) throw createHttpError(opts.dotfiles === 'deny' ? 403 : 404);
    let realRoot: string | undefined;
    const lease = leaseRoot(root);
    try {
      const opened = await lease.root;
      realRoot = opened.realPath;
      absolute = path.join(opened.path, ...segments);
      fd = await openBeneath(opened, target.relativePath, { followSymlinks: opts.followSymlinks });
    } catch (error) {
      throw createHttpError(mapErrorToStatus(error, { followSymlinks: opts.followSymlinks }), error, realRoot);
    } finally {
      lease.release(); // the file is open: the root fd is no longer needed by this call
    }
  } else {
    absolute = path.normalize(filePath);
    segments = absolute.split(path.sep).filter((s) => s !== '');
    if (opts.dotfiles !== 'allow' && hasDotSegment(segments)) throw createHttpError(opts.dotfiles === 'deny' ? 403 : 404);
    try {
      // O_NONBLOCK: a FIFO at this path cannot hang the open.
      fd = await openDescriptor(absolute, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (error) {
      throw createHttpError(mapErrorToStatus(error), error, path.dirname(absolute));
    }
  }
  try {
    const readAt = Date.now();
    const { stats, version } = readStatsAndVersion(fd);
    if (!stats.isFile()) throw createHttpError(404);
    const provable = isProvable(version, readAt, hasExactChangeTimes(version.dev, absolute));
    if (headers) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value as string | number | readonly string[]);
    await respondWithFile(req, res, {
      fd,
      stats,
      mtimeNs: version.mtimeNs,
      path: absolute,
      typeName: segments[segments.length - 1] ?? '',
      isUnchanged: () => provable && fdHasSameContent(fd, version),
    }, opts);
  } finally {
    await closeDescriptor(fd);
  }
}
