/**
 * The response the static layer is about to send, as a plain value, and the
 * pure functions that turn one such value into another (200 → 206, 416, 304,
 * 412). Nothing here reads a file or writes a socket: a body is a list of
 * Buffers and file regions, and write-body.ts moves the regions' bytes with
 * sendfile, so even a multipart/byteranges body stays zero-copy.
 *
 * Header names are lower-case throughout, so "drop X" and "set X" can never
 * miss a differently cased duplicate.
 *
 * multipart/byteranges body (RFC 9110 §14.6), as `applyRange` lays it out:
 *
 *   Content-Type: multipart/byteranges; boundary=3d6b6a416f9b
 *   Content-Length: <every Buffer and every region, summed exactly>
 *
 *   Buffer  "--3d6b6a416f9b\r\n"
 *           "Content-Type: video/mp4\r\n"
 *           "Content-Range: bytes 0-99/5000\r\n"
 *           "\r\n"
 *   Region  { fd, start: 0, end: 100 }                      ← sendfile
 *   Buffer  "\r\n--3d6b6a416f9b\r\n"
 *           "Content-Type: video/mp4\r\n"
 *           "Content-Range: bytes 4900-4999/5000\r\n"
 *           "\r\n"
 *   Region  { fd, start: 4900, end: 5000 }                  ← sendfile
 *   Buffer  "\r\n--3d6b6a416f9b--\r\n"
 */
import { randomBytes } from 'node:crypto';

import { createError } from '../../errors.js';
import { formatHttpDate } from '../semantics/http-date.js';
import { buildErrorPage, type GeneratedPage } from './page.js';
import { formatContentRange, formatUnsatisfiedRange, type ByteRange, type RangeResult } from '../semantics/range.js';

/** A half-open byte range [start, end) of an open file: sent with sendfile. */
export interface FileRegion {
  fd: number;
  start: number;
  end: number;
}

/** One piece of a body: bytes already in memory, or a region of a file. */
export type BodyPart = FileRegion | Buffer;

/**
 * A response ready to be written. `fd` is the open file the body's regions
 * refer to; this module never opens or closes it: the caller that opened it
 * owns it and closes it after the body is written (or abandoned), whatever
 * status the representation ends up with.
 */
export interface Representation {
  /** The open file, or null for a representation without one. */
  fd: number | null;
  /** Size of the selected representation (the whole file) in bytes; ranges address it. */
  size: number;
  /** Modification time in milliseconds since the epoch. */
  mtime: number;
  /** The ETag field value, or undefined when none is sent. */
  etag: string | undefined;
  /** The file's Content-Type (what each multipart part declares). */
  type: string;
  status: number;
  /** Response header fields, lower-case names. */
  headers: Record<string, string>;
  /** The body in order; Content-Length always equals its total length. */
  body: BodyPart[];
}

/** What `createFileRepresentation` needs to know about an opened file. */
export interface FileRepresentationInput {
  fd: number;
  size: number;
  mtimeMs: number;
  /** Content-Type, e.g. from lookupContentType. */
  type: string;
  /** ETag field value (computeETag), or undefined to send none. */
  etag?: string | undefined;
  /** Cache-Control value (buildCacheControl), or undefined to send none. */
  cacheControl?: string | undefined;
  /** Send Last-Modified (default true). */
  lastModified?: boolean;
  /** Send `Accept-Ranges: bytes` (default true). */
  acceptRanges?: boolean;
  /** Content-Encoding of a precompressed sibling (`br`, `gzip`). */
  contentEncoding?: string | undefined;
  /** Vary value, e.g. `Accept-Encoding` when precompressed siblings exist. */
  vary?: string | undefined;
}

/**
 * The 200 representation of a whole file: Content-Type, Content-Length,
 * Accept-Ranges, Last-Modified (IMF-fixdate, floored to the second), ETag,
 * Cache-Control, Content-Encoding and Vary as given, and a body that is one
 * region covering the file (no region at all for an empty file).
 */
export function createFileRepresentation(input: FileRepresentationInput): Representation {
  const headers: Record<string, string> = {
    'content-type': input.type,
    'content-length': String(input.size),
  };
  if (input.acceptRanges ?? true) headers['accept-ranges'] = 'bytes';
  if (input.lastModified ?? true) headers['last-modified'] = formatHttpDate(input.mtimeMs);
  if (input.etag !== undefined) headers['etag'] = input.etag;
  if (input.cacheControl !== undefined) headers['cache-control'] = input.cacheControl;
  if (input.contentEncoding !== undefined) headers['content-encoding'] = input.contentEncoding;
  if (input.vary !== undefined) headers['vary'] = input.vary;
  return {
    fd: input.fd,
    size: input.size,
    mtime: input.mtimeMs,
    etag: input.etag,
    type: input.type,
    status: 200,
    headers,
    body: input.size > 0 ? [{ fd: input.fd, start: 0, end: input.size }] : [],
  };
}

/** Options of `applyRange`. */
export interface ApplyRangeOptions {
  /**
   * The multipart boundary: 1 to 70 characters from `A-Z a-z 0-9 ' + _ - .`
   * (RFC 2046 bchars that need no quoting in a header parameter). Default: a
   * fresh random one from `createBoundary()`.
   */
  boundary?: string;
}

/**
 * Applies a `parseRange` result to a 200 representation of a file:
 *  - `none` → the same representation, unchanged (200);
 *  - `unsatisfiable` → 416 with `Content-Range: bytes *\/SIZE` and a small
 *    generated page as the body (RFC 9110 §15.5.17);
 *  - one range → 206 with Content-Range and the region as the body;
 *  - several → 206 multipart/byteranges (module comment), each part with
 *    Content-Type and Content-Range, the parts' bytes as file regions
 *    between boundary Buffers, and an exact Content-Length.
 * A representation that is not a 200 with a file is returned unchanged
 * (ranges select from a full representation only; nginx skips them too).
 * Several ranges of a content-encoded representation (a precompressed
 * sibling) are also declined, returning the 200: a Content-Encoding on the
 * multipart whole would claim the boundaries are compressed too, and RFC
 * 9110 §14.2 lets us ignore Range. A single range of it is fine.
 * Throws ZC_ERR_OUT_OF_RANGE if a range does not fit `rep.size` (it was
 * parsed against another size), ZC_ERR_INVALID_ARG for a bad boundary.
 */
export function applyRange(rep: Representation, range: RangeResult, options: ApplyRangeOptions = {}): Representation {
  if (range.kind === 'none' || rep.status !== 200 || rep.fd === null) return rep;
  if (range.kind === 'unsatisfiable') {
    return replaceWithPage(rep, buildErrorPage(416), { 'content-range': formatUnsatisfiedRange(rep.size) });
  }
  const { ranges } = range;
  for (const r of ranges) {
    if (!(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end) && r.start >= 0 && r.start < r.end && r.end <= rep.size)) {
      throw createError('ZC_ERR_OUT_OF_RANGE', ['range', `a non-empty range inside [0, ${rep.size})`, `[${r.start}, ${r.end})`]);
    }
  }
  const fd = rep.fd;
  if (ranges.length === 1) {
    const only = ranges[0]!;
    return {
      ...rep,
      status: 206,
      headers: {
        ...rep.headers,
        'content-range': formatContentRange(only, rep.size),
        'content-length': String(only.end - only.start),
      },
      body: [{ fd, start: only.start, end: only.end }],
    };
  }
  if (rep.headers['content-encoding'] !== undefined) return rep;

  const boundary = options.boundary ?? createBoundary();
  if (!BOUNDARY.test(boundary)) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.boundary', "1 to 70 characters from A-Z a-z 0-9 ' + _ - .", boundary]);
  }
  const body = buildMultipartBody(fd, ranges, rep.type, rep.size, boundary);
  return {
    ...rep,
    status: 206,
    headers: {
      ...omitHeaders(rep.headers, ['content-range']),
      'content-type': `multipart/byteranges; boundary=${boundary}`,
      'content-length': String(measureBody(body)),
    },
    body,
  };
}

/**
 * The 304 (Not Modified) form of a representation (RFC 9110 §15.4.5): no
 * body; ETag, Last-Modified, Cache-Control, Expires, Vary and any other
 * header kept (CORS headers must survive revalidation); the representation
 * metadata dropped: Content-Type, Content-Length, Content-Encoding,
 * Content-Language, Content-Range, and Accept-Ranges (as nginx does).
 * Last-Modified stays because it guides cache updates. `fd` is kept for
 * its owner to close.
 */
export function notModified(rep: Representation): Representation {
  return { ...rep, status: 304, headers: omitHeaders(rep.headers, NOT_MODIFIED_DROPPED), body: [] };
}

/**
 * The 412 (Precondition Failed) form: a small generated page replaces the
 * body and the representation's metadata and validators (like `applyRange`'s
 * 416); other headers are kept. `fd` is kept for its owner to close.
 */
export function preconditionFailed(rep: Representation): Representation {
  return replaceWithPage(rep, buildErrorPage(412), {});
}

/** A fresh multipart boundary: 24 random hex digits (96 bits), so no file can be expected to contain it. */
export function createBoundary(): string {
  return randomBytes(12).toString('hex');
}

/** True when the body part is a file region rather than a Buffer. */
export function isFileRegion(part: BodyPart): part is FileRegion {
  return !Buffer.isBuffer(part);
}

/** Total length in bytes of a body: what its Content-Length must say. */
export function measureBody(body: readonly BodyPart[]): number {
  let total = 0;
  for (const part of body) total += isFileRegion(part) ? part.end - part.start : part.length;
  return total;
}

// RFC 2046 bchars without the ones a header parameter would have to quote.
const BOUNDARY = /^[0-9A-Za-z'+_.-]{1,70}$/;

// Representation metadata (RFC 9110 §8) a 304 must not repeat.
const NOT_MODIFIED_DROPPED = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'accept-ranges',
];

// What a generated page replaces: the file's metadata and validators, and its
// caching policy (a 416 or 412 must not be cached for the file's max-age).
const PAGE_REPLACED = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'content-disposition',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
];

function buildMultipartBody(fd: number, ranges: readonly ByteRange[], type: string, size: number, boundary: string): BodyPart[] {
  const typeLine = type === '' ? '' : `Content-Type: ${type}\r\n`;
  const body: BodyPart[] = [];
  ranges.forEach((range, index) => {
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1),
    // so the first part has none: the body starts with "--boundary".
    const head = `${index === 0 ? '' : '\r\n'}--${boundary}\r\n${typeLine}Content-Range: ${formatContentRange(range, size)}\r\n\r\n`;
    body.push(Buffer.from(head, 'latin1'), { fd, start: range.start, end: range.end });
  });
  body.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'));
  return body;
}

function replaceWithPage(rep: Representation, page: GeneratedPage, extra: Record<string, string>): Representation {
  return {
    ...rep,
    status: page.status,
    headers: { ...omitHeaders(rep.headers, PAGE_REPLACED), ...page.headers, ...extra },
    body: [page.body],
  };
}

function omitHeaders(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!names.includes(name)) kept[name] = value;
  return kept;
}
