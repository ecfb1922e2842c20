/**
 * Entity tags for files, computed from metadata only (no hashing, no I/O).
 *
 * Strong, the default, nginx's format (ngx_http_set_etag) extended with the
 * modification time's fraction of a second when there is one:
 *
 *   ETag: "<mtime in seconds, hex>[.<nanoseconds within that second, hex>]-<size in bytes, hex>"
 *   ETag: "6553f100-1c"            28 bytes modified at 2023-11-14T22:13:20Z (whole second: nginx's tag)
 *   ETag: "6553f100.1dcd6500-1c"   the same, modified at 22:13:20.5
 *
 * Strong so that If-Range resumes work (RFC 9110 §13.1.5 accepts only strong
 * tags) and If-Match can succeed. nginx's seconds alone give two versions of
 * a file with the same size written within one second the same tag, so a
 * client revalidating with If-None-Match would be told 304 and keep the old
 * bytes; with the nanoseconds the file system records (Linux 6.13+ stamps a
 * change after a stat with a fine-grained time, file-version.ts), every
 * version gets its own tag. Files with whole-second mtimes (set by `touch -d`,
 * `cp -p` from such a file, or a second-granular file system) keep nginx's
 * exact tag. Last-Modified cannot follow: an HTTP-date has whole seconds.
 *
 * Weak, `etag: 'weak'`, byte for byte what pillarjs/send (through the `etag`
 * package, stat mode) sends, so users moving from express.static keep their
 * cached tags:
 *
 *   ETag: W/"<size in bytes, hex>-<mtime in integer ms, hex>"
 *   ETag: W/"1c-18bcfe56800"        the same file
 *
 * The integer milliseconds are those of Node's `stats.mtime` Date, which
 * rounds `stats.mtimeMs` to the nearest millisecond.
 *
 * Precompressed siblings (`foo.js.br` served for `foo.js`) are a different
 * representation with different bytes, so their tag must differ from the
 * identity file's or a cache could pair a Range of one with the other. The
 * tag is computed from the sibling's own size and mtime (the bytes actually
 * sent) and the content-coding is appended inside the quotes, so it differs
 * even when the two files happen to share size and mtime:
 *
 *   ETag: "6553f100-a3-br"       ETag: W/"a3-18bcfe56800-gzip"
 */
import { createError } from '../../errors.js';

/** `'strong'` (nginx format, default) or `'weak'` (send's format). */
export type ETagMode = 'strong' | 'weak';

/** The file metadata a tag is made of; an `fs.Stats` fits. */
export interface ETagSource {
  /** Size in bytes. */
  size: number;
  /** Modification time in milliseconds since the epoch (may be fractional). */
  mtimeMs: number;
  /**
   * The same time in nanoseconds, exact (a BigInt stat's `mtimeNs`). When
   * given, a strong tag carries the fraction of the second; without it, the
   * tag has whole seconds only (a double cannot hold today's nanoseconds).
   */
  mtimeNs?: bigint;
}

/** Options of `computeETag`. */
export interface ETagOptions {
  mode?: ETagMode;
  /** Content-coding of a precompressed sibling (`'br'`, `'gzip'`, `'zstd'`); omit for the identity file. */
  encoding?: string;
}

// A content-coding is a token (RFC 9110 §8.4.1); we only ever produce the
// registered lower-case ones, and the value ends up inside a quoted tag.
const CONTENT_CODING = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Computes the ETag field value of a file from its size and modification
 * time, in the format the module comment shows for `mode` (default strong;
 * with `mtimeNs`, the fraction of a second too), with `-<encoding>` inside
 * the quotes for a precompressed sibling.
 * Throws ZC_ERR_INVALID_ARG for a size that is not a non-negative safe
 * integer, a non-finite mtime, or an encoding that is not a lower-case token.
 */
export function computeETag(file: ETagSource, options: ETagOptions = {}): string {
  const { size, mtimeMs } = file;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw createError('ZC_ERR_INVALID_ARG', ['file.size', 'a non-negative safe integer', size]);
  }
  if (!Number.isFinite(mtimeMs)) throw createError('ZC_ERR_INVALID_ARG', ['file.mtimeMs', 'a finite number', mtimeMs]);
  const encoding = options.encoding;
  if (encoding !== undefined && !CONTENT_CODING.test(encoding)) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.encoding', 'a lower-case content-coding token', encoding]);
  }
  const suffix = encoding === undefined ? '' : `-${encoding}`;
  if (options.mode === 'weak') {
    return `W/"${size.toString(16)}-${Math.round(mtimeMs).toString(16)}${suffix}"`;
  }
  const { mtimeNs } = file;
  if (mtimeNs !== undefined) {
    const seconds = mtimeNs >= 0n ? mtimeNs / 1_000_000_000n : (mtimeNs - 999_999_999n) / 1_000_000_000n; // floor
    const fraction = mtimeNs - seconds * 1_000_000_000n;
    const time = fraction === 0n ? seconds.toString(16) : `${seconds.toString(16)}.${fraction.toString(16)}`;
    return `"${time}-${size.toString(16)}${suffix}"`;
  }
  return `"${Math.floor(mtimeMs / 1000).toString(16)}-${size.toString(16)}${suffix}"`;
}
