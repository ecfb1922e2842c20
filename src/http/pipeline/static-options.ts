/**
 * The options of serveStatic and sendFileResponse, checked and normalized
 * once when the handler is created (never per request). Pure.
 *
 * Names and meanings follow serve-static/send where they overlap, so an
 * `express.static(root, opts)` call keeps working when switched over.
 */
import type fs from 'node:fs';
import type { ServerResponse } from 'node:http';

import { createError } from '../../errors.js';
import { buildCacheControl } from '../semantics/cache-control.js';
import type { FileCacheOptions } from './file-cache.js';
import { MAX_RANGES } from '../semantics/range.js';
import type { PrecompressedEncoding } from '../semantics/accept-encoding.js';

/** `setHeaders(res, path, stats)`: serve-static's hook, called before our headers are set. */
export type SetHeaders = (res: ServerResponse, path: string, stats: fs.Stats) => void;

/** Options of serveStatic (and, for one file, sendFileResponse); every one optional. */
export interface ServeStaticOptions {
  /** Index file names tried for `/dir/` (default `['index.html']`); false disables. */
  index?: string | string[] | false;
  /** Paths with a segment starting with `.`: 'ignore' → 404 (default), 'deny' → 403, 'allow'. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /** true/'strong' (default): nginx-style strong ETag; 'weak': send's `W/"…"`; false: none. */
  etag?: boolean | 'strong' | 'weak';
  /** Send Last-Modified (default true). */
  lastModified?: boolean;
  /**
   * Cache-Control max-age, in milliseconds or a string like '1d', '2h'
   * (default 0). Clamped to [0, 1 year] as send does, so `Infinity` means a
   * year. A string that is not a duration, or NaN, throws (send would
   * silently send max-age=0).
   */
  maxAge?: number | string;
  /** serve-static's lower-case alias of `maxAge`; `maxAge` wins when both are given. */
  maxage?: number | string;
  /** Add `immutable` to Cache-Control (default false). */
  immutable?: boolean;
  /** Send Cache-Control at all (default true); a value set earlier (setHeaders, other middleware) is kept. */
  cacheControl?: boolean;
  /** `/dir` → 301 `/dir/` (default true); false: 404 / next(). */
  redirect?: boolean;
  /** With `next`: client errors (404, 403, 405 …) before a file is found call next() (default true). */
  fallthrough?: boolean;
  setHeaders?: SetHeaders;
  /** Extensions tried for extension-less paths that do not exist, e.g. ['html'] (default none). */
  extensions?: string[] | false;
  /** Honour Range and send `Accept-Ranges: bytes` (default true). */
  acceptRanges?: boolean;
  /** Most ranges in one Range header before it is ignored (default MAX_RANGES, 100). */
  maxRanges?: number;
  /** Serve `x.br` / `x.gz` siblings when Accept-Encoding allows (true = both). */
  precompressed?: boolean | PrecompressedEncoding[];
  /** Follow symlinks that lead outside the root (default false: 403). */
  followSymlinks?: boolean;
  /** Serve the index file for extension-less paths that do not exist (client-side routing). */
  spaFallback?: boolean;
  /** HTML listing of directories without an index file (default false). */
  listing?: boolean;
  /** Open-file cache tuning (maxEntries 0 disables it). */
  fileCache?: FileCacheOptions;
  /**
   * How the head reaches the socket on the sendfile path (write-body.ts).
   * 'prefix' (default): the head Node built rides in the sendfile job with
   * MSG_MORE (relies on ServerResponse's `_header`/`_headerSent`; falls back
   * to a plain flush when `_header` is absent). 'cork': TCP_CORK around
   * Node's own head write and the sendfile, public APIs only. Measured
   * (README, Static files): equal at 4 KiB, 'prefix' 1.8x the req/s at 1 MiB
   * (a corked 1 MiB sendfile took 240 µs in the kernel, uncorked 114 µs).
   */
  headerMode?: 'cork' | 'prefix';
  /** 'copy' forces the user-space body path (comparison, tests). */
  method?: 'auto' | 'copy';
}

/** Options after defaults and checks. */
export interface NormalizedOptions {
  index: string[];
  dotfiles: 'ignore' | 'deny' | 'allow';
  etag: 'strong' | 'weak' | false;
  lastModified: boolean;
  /** The Cache-Control value to send (unless one is already set), or undefined for none. */
  cacheControl: string | undefined;
  redirect: boolean;
  fallthrough: boolean;
  setHeaders: SetHeaders | undefined;
  extensions: string[];
  acceptRanges: boolean;
  maxRanges: number;
  precompressed: PrecompressedEncoding[];
  followSymlinks: boolean;
  spaFallback: boolean;
  listing: boolean;
  fileCache: FileCacheOptions;
  headerMode: 'cork' | 'prefix';
  method: 'auto' | 'copy';
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw createError('ZC_ERR_INVALID_ARG', [name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value]);
  return value as T;
}

function flag(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw createError('ZC_ERR_INVALID_ARG', [name, 'a boolean', value]);
  return value;
}

function names(value: unknown, name: string, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  if (value === false) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string' && item !== '' && !/[/\\\0]/.test(item))) {
    throw createError('ZC_ERR_INVALID_ARG', [name, 'a file name or an array of file names', value]);
  }
  return [...list];
}

/**
 * Applies defaults and checks types; throws ZC_ERR_INVALID_ARG (a TypeError)
 * on a bad option. `null` and `undefined` mean all defaults (serve-static
 * treats them so).
 */
export function normalizeOptions(given?: ServeStaticOptions | null): NormalizedOptions {
  const options = given ?? {};
  if (typeof options !== 'object') throw createError('ZC_ERR_INVALID_ARG', ['options', 'an object', options]);
  const etag = options.etag === undefined || options.etag === true ? 'strong' : options.etag;
  if (etag !== false && etag !== 'strong' && etag !== 'weak') throw createError('ZC_ERR_INVALID_ARG', ['options.etag', "true, false, 'strong' or 'weak'", options.etag]);
  if (options.setHeaders !== undefined && typeof options.setHeaders !== 'function') {
    throw createError('ZC_ERR_INVALID_ARG', ['options.setHeaders', 'a function (option setHeaders must be function)', options.setHeaders]);
  }
  const maxRanges = options.maxRanges ?? MAX_RANGES;
  if (!Number.isSafeInteger(maxRanges) || maxRanges < 0) throw createError('ZC_ERR_INVALID_ARG', ['options.maxRanges', 'a non-negative integer', maxRanges]);
  let precompressed: PrecompressedEncoding[];
  if (options.precompressed === undefined || options.precompressed === false) precompressed = [];
  else if (options.precompressed === true) precompressed = ['br', 'gzip'];
  else if (Array.isArray(options.precompressed) && options.precompressed.every((e) => e === 'br' || e === 'gzip')) precompressed = [...options.precompressed];
  else throw createError('ZC_ERR_INVALID_ARG', ['options.precompressed', "a boolean or an array of 'br' and 'gzip'", options.precompressed]);
  const extensions = names(options.extensions, 'options.extensions', []).map((ext) => ext.replace(/^\./, ''));
  const maxAge = options.maxAge ?? options.maxage;
  return {
    index: names(options.index, 'options.index', ['index.html']),
    dotfiles: oneOf(options.dotfiles, 'options.dotfiles', ['ignore', 'deny', 'allow'] as const, 'ignore'),
    etag,
    lastModified: flag(options.lastModified, 'options.lastModified', true),
    cacheControl: buildCacheControl({
      cacheControl: flag(options.cacheControl, 'options.cacheControl', true),
      immutable: flag(options.immutable, 'options.immutable', false),
      ...(maxAge !== undefined && maxAge !== null ? { maxAge } : {}),
    }),
    redirect: flag(options.redirect, 'options.redirect', true),
    fallthrough: flag(options.fallthrough, 'options.fallthrough', true),
    setHeaders: options.setHeaders,
    extensions,
    acceptRanges: flag(options.acceptRanges, 'options.acceptRanges', true),
    maxRanges,
    precompressed,
    followSymlinks: flag(options.followSymlinks, 'options.followSymlinks', false),
    spaFallback: flag(options.spaFallback, 'options.spaFallback', false),
    listing: flag(options.listing, 'options.listing', false),
    fileCache: { ...(options.fileCache ?? {}) },
    headerMode: oneOf(options.headerMode, 'options.headerMode', ['cork', 'prefix'] as const, 'prefix'),
    method: oneOf(options.method, 'options.method', ['auto', 'copy'] as const, 'auto'),
  };
}
