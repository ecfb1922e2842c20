/**
 * One opened file → one HTTP response: validators, preconditions, Range,
 * headers, body. Shared by serveStatic and sendFileResponse. The decisions
 * are the pure modules' (conditional.ts, range.ts, representation.ts); this
 * file applies them to a ServerResponse and picks the body path:
 *
 *   small file, cached in memory   → res.end(bytes): head and body leave in one writev
 *   anything else                  → writeResponse: head through Node, body with sendfile
 *   HEAD, 304, empty file          → head only
 *
 * Header precedence follows send: `setHeaders(res, path, stats)` runs first,
 * and a Content-Type, ETag, Last-Modified or Cache-Control it (or earlier
 * middleware) set is kept and used, including as the validator that
 * If-None-Match / If-Match / If-Range are compared with.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type fs from 'node:fs';

import type { PrecompressedEncoding } from '../semantics/accept-encoding.js';
import { evaluateIfRange, evaluatePreconditions } from '../semantics/conditional.js';
import { computeETag } from '../semantics/etag.js';
import { formatHttpDate, parseHttpDate } from '../semantics/http-date.js';
import { lookupContentType } from '../semantics/mime.js';
import { parseRange } from '../semantics/range.js';
import { applyRange, createFileRepresentation, isFileRegion, notModified, preconditionFailed, type Representation } from './representation.js';
import { canonicalHeaderName } from '../semantics/header-case.js';
import { recordResponseBody } from './response-info.js';
import type { NormalizedOptions } from './static-options.js';
import { writeResponse } from './write-body.js';

/** A file ready to answer with. The caller owns `fd` and releases it after the returned promise settles. */
export interface FileToServe {
  fd: number;
  stats: fs.Stats;
  /** `stats.mtimeMs` to the nanosecond, exact: the ETag then tells apart versions written within one second. */
  mtimeNs?: bigint | undefined;
  /** The whole file in memory (small hot files from the file cache). */
  content?: Buffer | undefined;
  /** Absolute path, as `setHeaders` receives it. */
  path: string;
  /** Name whose extension gives the Content-Type (the identity file's for a precompressed sibling). */
  typeName: string;
  /** Set when `fd` is a precompressed sibling. */
  encoding?: PrecompressedEncoding | undefined;
  /** Add `Vary: Accept-Encoding` (precompressed siblings may be chosen for this URL). */
  vary?: boolean;
  /**
   * True while `fd`'s bytes are still those `stats` describes; given, a body
   * read from `fd` is sent whole and of one version, or the connection is
   * closed (write-body.ts). Not used for `content`, a snapshot.
   */
  isUnchanged?: (() => boolean) | undefined;
}

// Representation headers this module sets or removes on `res`.
const MANAGED_HEADERS = [
  'content-type', 'content-length', 'content-encoding', 'content-language', 'content-range', 'content-disposition',
  'accept-ranges', 'etag', 'last-modified', 'cache-control', 'expires', 'vary',
] as const;

function headerString(res: ServerResponse, name: string): string | undefined {
  const value = res.getHeader(name);
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

// Merges our Vary member into one a previous handler set (CORS middleware
// often sets `Vary: Origin`), without duplicating it.
function mergeVary(existing: string | undefined, member: string): string {
  if (existing === undefined || existing.trim() === '') return member;
  const members = existing.split(',').map((s) => s.trim().toLowerCase());
  return members.includes('*') || members.includes(member.toLowerCase()) ? existing : `${existing}, ${member}`;
}

/** What a file's metadata gives, computed once per (stats, name, coding, etag mode). */
interface Derived {
  type: string;
  etag: string | undefined;
  lastModified: string;
  /** `lastModified` parsed back: the modification time the client can know (whole seconds). */
  lastModifiedMs: number | undefined;
}

// The file cache lends the same Stats object for every hit on an unchanged
// file (a replaced file gets a new one), so a WeakMap keyed by it memoizes
// date formatting, the MIME lookup and the ETag: a few µs per small response.
const derivedByStats = new WeakMap<fs.Stats, Map<string, Derived>>();

function derive(file: FileToServe, options: NormalizedOptions): Derived {
  const key = `${file.typeName}\0${file.encoding ?? ''}\0${options.etag}`;
  let byKey = derivedByStats.get(file.stats);
  let derived = byKey?.get(key);
  if (derived) return derived;
  const lastModified = formatHttpDate(file.stats.mtimeMs);
  derived = {
    type: lookupContentType(file.typeName),
    etag: options.etag === false ? undefined : computeETag({ size: file.stats.size, mtimeMs: file.stats.mtimeMs, ...(file.mtimeNs !== undefined ? { mtimeNs: file.mtimeNs } : {}) },
      { mode: options.etag, ...(file.encoding ? { encoding: file.encoding } : {}) }),
    lastModified,
    lastModifiedMs: parseHttpDate(lastModified),
  };
  if (!byKey) derivedByStats.set(file.stats, (byKey = new Map()));
  byKey.set(key, derived);
  return derived;
}

/** The 200 representation, honouring headers set before us (setHeaders, other middleware). */
function buildRepresentation(res: ServerResponse, file: FileToServe, options: NormalizedOptions): Representation {
  const derived = derive(file, options);
  const presetType = headerString(res, 'content-type');
  const presetETag = headerString(res, 'etag');
  const presetLastModified = headerString(res, 'last-modified');
  const presetCacheControl = headerString(res, 'cache-control');
  const rep = createFileRepresentation({
    fd: file.fd,
    size: file.stats.size,
    mtimeMs: file.stats.mtimeMs,
    type: presetType ?? derived.type,
    etag: presetETag ?? derived.etag,
    cacheControl: presetCacheControl ?? options.cacheControl,
    // Set below from the memo (createFileRepresentation would format it per call).
    lastModified: false,
    acceptRanges: options.acceptRanges,
    contentEncoding: file.encoding,
    vary: file.vary ? mergeVary(headerString(res, 'vary'), 'Accept-Encoding') : headerString(res, 'vary'),
  });
  if (presetLastModified !== undefined) rep.headers['last-modified'] = presetLastModified;
  else if (options.lastModified) rep.headers['last-modified'] = derived.lastModified;
  // Representation metadata set before us becomes part of the representation,
  // so the 304/412/416 transforms keep or drop it by the same rules as ours.
  for (const name of ['content-disposition', 'content-language', 'expires']) {
    const value = headerString(res, name);
    if (value !== undefined) rep.headers[name] = value;
  }
  return rep;
}

/** The last-modified time the client can know: the header we send, to the second. */
function lastModifiedOf(rep: Representation, derived: Derived): number | undefined {
  const header = rep.headers['last-modified'];
  if (header === undefined) return undefined;
  return header === derived.lastModified ? derived.lastModifiedMs : parseHttpDate(header);
}

function decide(req: IncomingMessage, rep: Representation, derived: Derived, options: NormalizedOptions): Representation {
  const method = req.method ?? 'GET';
  const validators = { etag: rep.etag ?? rep.headers['etag'], lastModified: lastModifiedOf(rep, derived) };
  const precondition = evaluatePreconditions(req.headers, validators, method);
  if (precondition === 304) return notModified(rep);
  if (precondition === 412) return preconditionFailed(rep);
  // RFC 9110 §14.2: Range is defined for GET only; HEAD gets the 200 head.
  const range = req.headers.range;
  if (method !== 'GET' || !options.acceptRanges || range === undefined) return rep;
  const ifRange = req.headers['if-range'];
  if (!evaluateIfRange(Array.isArray(ifRange) ? ifRange.join(', ') : ifRange, validators)) return rep;
  return applyRange(rep, parseRange(range, rep.size, { maxRanges: options.maxRanges }));
}

function applyHeaders(res: ServerResponse, rep: Representation): void {
  for (const name of MANAGED_HEADERS) if (rep.headers[name] === undefined && res.hasHeader(name)) res.removeHeader(name);
  for (const [name, value] of Object.entries(rep.headers)) res.setHeader(canonicalHeaderName(name), value);
  res.statusCode = rep.status;
}

// The body from the in-memory copy: regions become slices (no copy) of it.
function memoryBody(rep: Representation, content: Buffer): Buffer {
  const parts = rep.body.map((part) => (isFileRegion(part) ? content.subarray(part.start, part.end) : part));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * Request headers that make a response depend on more than the file: a
 * range, a precondition. Their absence is what lets a cached small file be
 * answered with its precomputed 200 head.
 */
const SELECTING_HEADERS = ['range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'] as const;

/** The 200 head of a file as an array for res.writeHead (what respondWithFile would set), per (stats, name, etag mode). */
const headBlockByStats = new WeakMap<fs.Stats, Map<string, string[]>>();

function headBlock(file: FileToServe, options: NormalizedOptions): string[] {
  const key = `${file.typeName}\0${options.etag}\0${options.cacheControl}\0${options.lastModified}\0${options.acceptRanges}`;
  let byKey = headBlockByStats.get(file.stats);
  let block = byKey?.get(key);
  if (block) return block;
  const derived = derive(file, options);
  const rep = createFileRepresentation({
    fd: file.fd,
    size: file.stats.size,
    mtimeMs: file.stats.mtimeMs,
    type: derived.type,
    etag: derived.etag,
    cacheControl: options.cacheControl,
    lastModified: false,
    acceptRanges: options.acceptRanges,
    contentEncoding: undefined,
    vary: undefined,
  });
  if (options.lastModified) rep.headers['last-modified'] = derived.lastModified;
  block = Object.entries(rep.headers).flatMap(([name, value]) => [canonicalHeaderName(name), String(value)]);
  if (!byKey) headBlockByStats.set(file.stats, (byKey = new Map()));
  byKey.set(key, block);
  return block;
}

/**
 * The fast path of a small cached file (issue 11): when nothing can change
 * the answer — no range or precondition in the request, no header set on
 * `res` by earlier middleware that the representation would take over, no
 * setHeaders hook, no precompressed sibling — the whole response is one
 * writeHead with the file's precomputed head and one end with its bytes,
 * decided synchronously. Returns false, having done nothing, when any of
 * that does not hold: the caller then takes the general path. Same bytes
 * and headers as respondWithFile gives for such a request.
 */
export function respondFromMemory(req: IncomingMessage, res: ServerResponse, file: FileToServe & { content: Buffer }, options: NormalizedOptions): boolean {
  if (options.setHeaders !== undefined || file.encoding !== undefined || file.vary) return false;
  const headers = req.headers;
  for (const name of SELECTING_HEADERS) if (headers[name] !== undefined) return false;
  if (res.headersSent) return false;
  // Express sets X-Powered-By; a header the representation owns (Content-Type …) means the general path.
  const preset = res.getHeaderNames();
  for (const name of preset) if ((MANAGED_HEADERS as readonly string[]).includes(name)) return false;
  res.writeHead(200, headBlock(file, options));
  const isHead = req.method === 'HEAD';
  res.end(isHead ? undefined : file.content);
  recordResponseBody(res, { bytes: isHead ? 0 : file.content.length, method: isHead ? 'none' : 'memory' });
  return true;
}

/**
 * Answers `req` with `file` and resolves once the response is complete or
 * has failed; never rejects for body failures (the connection is destroyed
 * and the failure recorded in responseBodyOf(res)). `setHeaders` errors
 * propagate (before anything was sent). The caller keeps `file.fd` open
 * until this settles and then releases it.
 */
export async function respondWithFile(req: IncomingMessage, res: ServerResponse, file: FileToServe, options: NormalizedOptions): Promise<void> {
  options.setHeaders?.(res, file.path, file.stats);
  const rep = decide(req, buildRepresentation(res, file, options), derive(file, options), options);
  applyHeaders(res, rep);
  const isHead = req.method === 'HEAD';
  if (isHead || rep.body.length === 0) {
    res.end();
    recordResponseBody(res, { bytes: 0, method: 'none' });
    return;
  }
  const hasRegion = rep.body.some(isFileRegion);
  if (!hasRegion || file.content !== undefined) {
    // A generated page (416, 412) or a small cached file: one write of head + body.
    const body = file.content !== undefined && hasRegion ? memoryBody(rep, file.content) : Buffer.concat(rep.body as Buffer[]);
    res.end(body);
    recordResponseBody(res, { bytes: body.length, method: 'memory' });
    return;
  }
  try {
    const result = await writeResponse(res, rep.body, {
      method: options.method,
      headerMode: options.headerMode,
      ...(file.isUnchanged ? { isUnchanged: file.isUnchanged } : {}),
    });
    recordResponseBody(res, { bytes: result.bytes, method: result.method, ...(result.reason ? { reason: result.reason } : {}) });
  } catch (error) {
    // writeResponse destroyed the connection: the client sees an incomplete body, never a short one.
    const bytes = (error as { bytesWritten?: number }).bytesWritten ?? 0;
    const method = (error as { method?: unknown }).method === 'copy' ? 'copy' : 'sendfile';
    recordResponseBody(res, { bytes, method, error: error as Error });
  }
}
