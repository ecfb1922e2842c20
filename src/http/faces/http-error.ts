/**
 * The error serveStatic hands to `next(err)` and sendFileResponse rejects
 * with, shaped like the http-errors objects serve-static (through send)
 * passes, so error handlers written for express.static keep working:
 *
 *   err.status / err.statusCode   404
 *   err.expose                    true for a 4xx with no underlying cause;
 *                                 false when a file-system error caused it
 *                                 (send passes those with expose: false)
 *   err.name                      'NotFoundError' (http-errors' class names)
 *   err.message, err.stack        'Not Found' or, with a cause,
 *                                 "Not Found: ENOENT: no such file or directory, openat2 'users/x.txt'"
 *   err.cause                     the system error
 *   err.code                      'ZC_ERR_HTTP_STATUS' (the system code is err.cause.code)
 *
 * The message never holds an absolute path: a cause's path is shown
 * relative to the root (Express's finalhandler prints err.stack to the client
 * outside production).
 */
import { STATUS_CODES } from 'node:http';
import path from 'node:path';

import { createError } from '../../errors.js';
import { systemErrorMap } from '../../native/errno.js';
import { describeStatus } from '../pipeline/status.js';

/** What serveStatic passes to `next(err)` and sendFileResponse rejects with. */
export interface StaticHttpError extends Error {
  code: 'ZC_ERR_HTTP_STATUS';
  status: number;
  statusCode: number;
  expose: boolean;
}

/**
 * http-errors' constructor name for a status: the reason phrase in
 * PascalCase, with `Error` appended unless it already ends so
 * (404 → NotFoundError, 500 → InternalServerError); `Error` for a status
 * without a reason phrase.
 */
export function httpErrorName(status: number): string {
  const reason = STATUS_CODES[status];
  if (reason === undefined) return 'Error';
  const identifier = reason
    .split(' ')
    .map((word) => word.slice(0, 1).toUpperCase() + word.slice(1))
    .join('')
    .replace(/[^ _0-9a-z]/gi, '');
  return identifier.endsWith('Error') ? identifier : `${identifier}Error`;
}

// "ENOENT: no such file or directory, openat2 'users/x.txt'": a system
// error described from its code, errno and syscall, with its path made
// relative to `root` (and dropped when it is outside it).
function describeCause(cause: unknown, root: string | undefined): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const { code, errno, syscall, path: where } = cause as { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown };
  if (typeof code !== 'string') return undefined;
  const description = typeof errno === 'number' ? systemErrorMap().get(errno)?.[1] : undefined;
  let text = description === undefined ? code : `${code}: ${description}`;
  if (typeof syscall === 'string') text += `, ${syscall}`;
  if (typeof where === 'string') {
    const shown = !path.isAbsolute(where) ? where : root !== undefined ? path.relative(root, where) : undefined;
    if (shown !== undefined && !shown.startsWith('..') && !path.isAbsolute(shown)) text += ` '${shown}'`;
  }
  return text;
}

/**
 * The error for `status`, with the file-system error `cause` if there is one
 * (module comment). `root` is the directory paths in the message are shown
 * relative to; paths outside it are left out.
 */
export function createHttpError(status: number, cause?: unknown, root?: string): StaticHttpError {
  const reason = describeStatus(status);
  const described = describeCause(cause, root);
  const error = createError('ZC_ERR_HTTP_STATUS', [described === undefined ? reason : `${reason}: ${described}`],
    cause === undefined ? {} : { cause }) as unknown as StaticHttpError;
  Object.defineProperty(error, 'name', { value: httpErrorName(status), enumerable: false, configurable: true, writable: true });
  // The stack's first line was formatted with the old name: take it again.
  Error.captureStackTrace?.(error, createHttpError);
  error.status = status;
  error.statusCode = status;
  error.expose = status < 500 && described === undefined;
  return error;
}
