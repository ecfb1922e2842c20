/**
 * The one place the HTTP layer moves body bytes (with middleware.ts the only
 * HTTP modules doing I/O). Headers go out through Node's ServerResponse, so
 * setHeaders hooks, other middleware and keep-alive bookkeeping keep working;
 * file regions go out with sendfile(2) on the response's socket; buffers
 * between them (multipart boundaries) ride along as the next region's prefix.
 *
 *   HTTP/1.1 206 Partial Content\r\n...\r\n\r\n     ← res.flushHeaders() (Node), TCP corked
 *   --BOUNDARY\r\nContent-Range: ...\r\n\r\n         ← prefix of the next sendfile
 *   <file bytes 0-99>                               ← sendfile(dup(socket), fd, [0], 100)
 *   \r\n--BOUNDARY--\r\n                             ← Node write after the last region
 *                                                   ← uncork: one segment where it fits
 *
 * Invariant: a body is either sent whole or the connection is destroyed; a
 * response never ends early under a Content-Length that no longer holds.
 * With `isUnchanged` (what serveStatic passes), "whole" also means "of one
 * version": sendfile reads the page cache as it is at the moment of each
 * call, so a write landing mid-response would otherwise splice new bytes
 * into an old body. The last byte waits for proof that the file did not
 * change while the others were read:
 *
 *   sendfile(fd, [start, end - 1))  ─┐ concurrently
 *   pread(fd, end - 1, 1)           ─┘
 *   isUnchanged()?  yes → write the byte (and any closing boundary) through Node
 *                   no  → destroy: the client is one byte short, and knows it
 *
 * The price, measured (wrk -c32, 1 MiB file, loopback, 2 cores): ~20% of
 * req/s against the same server without the held byte (2.4-2.7k vs 3.3k),
 * all of it the byte's own write and segment: without the pread and the
 * fstat it costs the same, and corking the socket so the byte joins the
 * body's last segment made it worse (1.3k). Correctness first (DESIGN.md
 * invariant 4); small files are answered from a snapshot and pay nothing.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type net from 'node:net';

import { createError } from '../../errors.js';
import { readInto, readSmall } from '../../fs/descriptors.js';
import { isNativeAvailable } from '../../native/status.js';
import { flushSocketWrites, socketFd } from '../../transfer/endpoint.js';
import { sendFile } from '../../transfer/sendfile.js';
import { setTcpCork } from '../../transfer/socket-options.js';
import { isFileRegion, measureBody, type BodyPart, type FileRegion } from './representation.js';

export type { BodyPart, FileRegion };

export type BodyMethod = 'sendfile' | 'copy' | 'none';

export interface WriteBodyOptions {
  /** 'copy' streams through Node (what non-Linux and TLS sockets get anyway). */
  method?: 'auto' | 'copy';
  /**
   * How the head reaches the socket on the sendfile path:
   * - 'cork' (default): TCP_CORK, res.flushHeaders(), sendfile, uncork. Public
   *   Node APIs only; head and first body bytes share a segment.
   * - 'prefix': the head bytes Node built (`res._header`) are handed to the
   *   sendfile job and sent with MSG_MORE. Saves two setsockopt calls per
   *   response but relies on ServerResponse internals; feature-detected.
   */
  headerMode?: 'cork' | 'prefix';
  /**
   * Whole or closed across a file changing mid-response: when given, the
   * body's last file byte is held back (read alongside the rest, written
   * through Node after the last sendfile) and sent only if this returns true
   * once every other byte has been read; false destroys the connection with
   * ZC_ERR_FILE_CHANGED, so the client sees an incomplete body rather than
   * one mixing two versions of the file. Costs a 1-byte pread (threadpool,
   * overlapping the sendfile), the check itself and one more small write.
   */
  isUnchanged?: () => boolean;
}

/**
 * Why a body took the copy path instead of sendfile:
 * - 'tls': the socket encrypts in user space (OpenSSL); sendfile would put
 *   plaintext on the wire. Zero-copy HTTPS needs kTLS (README, Performance);
 * - 'http2': HTTP/2 frames every body (DATA frames on a multiplexed
 *   connection), so the file's bytes cannot go to the socket as they are,
 *   even in cleartext (h2c);
 * - 'no-addon': the native addon is not loaded (other platforms, ZEROCOPY_NATIVE=0);
 * - 'no-socket-fd': the response's socket has no kernel fd (a stream-wrapped duplex);
 * - 'forced': `method: 'copy'`;
 * - 'kernel-refused': sendfile refused these fds before moving a byte and the
 *   transfer fell back (a /proc or FUSE file, …);
 * - 'last-byte-only': the body was a single byte, the one held back until the
 *   file is proven unchanged (a one-byte range), so there was nothing for
 *   sendfile to send;
 * - 'fd-exhausted': the transfer could not dup() the socket or file (EMFILE:
 *   the process is at RLIMIT_NOFILE; ENFILE: the system table is full), so
 *   nothing was sent and Node wrote the body instead. With 10,000 keep-alive
 *   clients of 1 MiB files under a 20,000-fd limit, 382-398 responses per
 *   6 s round had been refused this way (connection closed, 0 bytes); with
 *   this path, up to 298 per round went out by copy. Copying needs no new fd.
 */
export type CopyReason = 'tls' | 'http2' | 'no-addon' | 'no-socket-fd' | 'forced' | 'kernel-refused' | 'last-byte-only' | 'fd-exhausted';

export interface BodyResult {
  /** Body bytes written (0 for HEAD). */
  bytes: number;
  /** 'none' when there was no body to send (HEAD, 304, empty). */
  method: BodyMethod;
  /** Set when `method` is 'copy': why (CopyReason). */
  reason?: CopyReason;
}

/** Chunk of the copy path: Node's default stream highWaterMark for files. */
const COPY_CHUNK_BYTES = 64 << 10;

/** Total body length of `parts`: what Content-Length must say. */
export const bodyLength = measureBody;

/**
 * Pipelined responses get their socket only when the previous response on the
 * connection finishes (Node queues them); the native path needs the socket.
 */
async function waitForSocket(res: ServerResponse): Promise<net.Socket> {
  if (res.socket) return res.socket;
  // A queued response gets neither 'socket' nor 'close' when its connection
  // dies (Node only destroys the queued requests), so watch the connection.
  const connection = res.req?.socket;
  if (res.destroyed || connection?.destroyed) throw createError('ZC_ERR_SOCKET_CLOSED', []);
  const ac = new AbortController();
  const closed = () => {
    throw createError('ZC_ERR_SOCKET_CLOSED', []);
  };
  try {
    const [socket] = (await Promise.race([
      once(res, 'socket', { signal: ac.signal }),
      once(res, 'close', { signal: ac.signal }).then(closed),
      ...(connection ? [once(connection, 'close', { signal: ac.signal }).then(closed)] : []),
    ])) as [net.Socket];
    return socket;
  } finally {
    ac.abort();
  }
}

/** Writes through the response (the copy path); resolves once Node took the chunk. */
function writeThroughResponse(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(createError('ZC_ERR_SOCKET_CLOSED', []));
      return;
    }
    res.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/** A fresh buffer each time: res.write may hold a chunk until the socket drains. */
async function readChunk(fd: number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  return buffer.subarray(0, await readInto(fd, buffer, length, position));
}

/**
 * Where the last file byte of a body is, when the body has one: that byte is
 * held back until `isUnchanged()` confirms the file did not change while
 * every other byte was read (the whole-or-closed rule, module comment).
 */
function lastRegionIndex(parts: readonly BodyPart[], isUnchanged: (() => boolean) | undefined): number {
  if (isUnchanged === undefined) return -1;
  for (let i = parts.length - 1; i >= 0; i--) if (isFileRegion(parts[i]!)) return i;
  return -1;
}

/** Throws ZC_ERR_FILE_CHANGED unless the file is still the one the response describes. */
function assertUnchanged(isUnchanged: () => boolean, sent: number, total: number): void {
  if (!isUnchanged()) throw createError('ZC_ERR_FILE_CHANGED', [sent, total], { bytesWritten: sent });
}

/**
 * A transfer that failed before its job started because a dup() found no free
 * fd, with no byte of it (head included) on the socket: run.ts says so with
 * `bytesWritten` and `headSent` both 0 (a fallback job whose dup fails after
 * the first job sent part of the head reports that part). Writing the same
 * bytes through Node then sends each exactly once.
 */
function isFdExhaustedBeforeStart(error: unknown): boolean {
  const e = error as { code?: unknown; syscall?: unknown; bytesWritten?: unknown; headSent?: unknown };
  return (e.code === 'EMFILE' || e.code === 'ENFILE') && e.syscall === 'dup' && e.bytesWritten === 0 && e.headSent === 0;
}

/**
 * Writes the file bytes [start, end) through Node, `sentBefore` body bytes
 * into a body of `total`; resolves with the bytes of the region.
 * `beforeLastWrite` runs once the region's last chunk is read and before it
 * is written, with the body bytes sent by then (the held-back-byte check).
 */
async function copyRegion(res: ServerResponse, fd: number, start: number, end: number, sentBefore: number, total: number,
  beforeLastWrite?: (sent: number) => void): Promise<number> {
  for (let at = start; at < end;) {
    const chunk = await readChunk(fd, Math.min(COPY_CHUNK_BYTES, end - at), at);
    const sent = sentBefore + (at - start);
    if (chunk.length === 0) throw createError('ZC_ERR_FILE_TRUNCATED', [sent, total], { bytesWritten: sent, method: 'copy' });
    if (beforeLastWrite && at + chunk.length === end) beforeLastWrite(sent);
    await writeThroughResponse(res, chunk);
    at += chunk.length;
  }
  return end - start;
}

async function copyParts(res: ServerResponse, parts: readonly BodyPart[], isUnchanged: (() => boolean) | undefined): Promise<number> {
  const held = lastRegionIndex(parts, isUnchanged);
  let bytes = 0;
  for (const [index, part] of parts.entries()) {
    if (!isFileRegion(part)) {
      await writeThroughResponse(res, part);
      bytes += part.length;
      continue;
    }
    // Every byte of the body has been read once the held region's last chunk
    // is: the check comes before that chunk is written.
    const check = index === held ? (sent: number) => assertUnchanged(isUnchanged!, sent, bodyLength(parts)) : undefined;
    bytes += await copyRegion(res, part.fd, part.start, part.end, bytes, bodyLength(parts), check);
  }
  return bytes;
}

function headBytes(res: ServerResponse): Buffer | undefined {
  const header = (res as unknown as { _header?: unknown })._header;
  return typeof header === 'string' ? Buffer.from(header, 'latin1') : undefined;
}

/**
 * Marks the head as sent: native code sends `res._header` itself, as the
 * prefix of the first sendfile job. Set before that job starts, not after
 * it ends (see sendParts).
 */
function markHeadSent(res: ServerResponse): void {
  (res as unknown as { _headerSent: boolean })._headerSent = true;
}

/**
 * Sends the head and the file regions; resolves with what is left for the
 * caller to end the response with (`rest`: the held-back byte and the
 * buffers after the last region), so that res.end(rest) hands them to Node
 * without waiting for room in the socket: a response's end never waits for
 * its client to read (the next response's job waits for Node's queue to
 * flush before it writes, so nothing is overtaken).
 */
async function sendParts(res: ServerResponse, socket: net.Socket, parts: readonly BodyPart[], headerMode: 'cork' | 'prefix', isUnchanged: (() => boolean) | undefined): Promise<BodyResult & { rest?: Buffer }> {
  let head: Buffer | undefined;
  if (headerMode === 'prefix') {
    if (!headBytes(res)) res.writeHead(res.statusCode);
    head = headBytes(res);
  }
  if (head === undefined) {
    res.flushHeaders();
    // Headers still queued in Node's user-space buffer must not be overtaken.
    await flushSocketWrites(socket);
  }
  const held = lastRegionIndex(parts, isUnchanged);
  let tail: { read: Promise<Buffer>; at: number } | undefined;
  // Buffers not yet sent, in body order; they ride as the next sendfile's prefix.
  let pending: Buffer[] = [];
  let bytes = 0;
  let method: BodyMethod = 'sendfile';
  let reason: CopyReason | undefined;
  try {
    for (const [index, part] of parts.entries()) {
      if (!isFileRegion(part)) {
        pending.push(part);
        continue;
      }
      let end = part.end;
      if (index === held) {
        // The last byte is read now, alongside the sendfile of the others,
        // and sent only after the check below (all reads precede it).
        end -= 1;
        tail = { read: readSmall(part.fd, 1, end), at: pending.length };
        tail.read.catch(() => {}); // awaited below; a failure before that is not unhandled
      }
      if (end === part.start) continue;
      const between = bodyLength(pending);
      const prefix = head || pending.length > 0 ? Buffer.concat(head ? [head, ...pending] : pending) : undefined;
      pending = [];
      if (tail) tail.at = 0;
      if (head) {
        // From here the head is the job's to send: Node must count it as
        // sent, or its socketOnError (a pipelined malformed request, the
        // headersTimeout 408) would write its own response into our body
        // (issue 8 §5). With the flag set, Node only destroys the socket,
        // which cancels the job: the client sees a cut body, never a mixed one.
        markHeadSent(res);
        head = undefined;
      }
      let result;
      try {
        result = await sendFile(socket, part.fd, { offset: part.start, length: end - part.start, ...(prefix ? { prefix } : {}) });
      } catch (error) {
        if (!isFdExhaustedBeforeStart(error)) throw error;
        if (prefix) await writeThroughResponse(res, prefix);
        const copied = await copyRegion(res, part.fd, part.start, end, bytes + between, bodyLength(parts));
        result = { bytes: copied, method: 'copy' as const };
        reason ??= 'fd-exhausted';
      }
      bytes += between + result.bytes;
      if (result.method === 'copy') {
        method = 'copy';
        reason ??= 'kernel-refused'; // the transfer fell back by itself (the first reason met is kept)
      }
    }
    if (tail) {
      const byte = await tail.read;
      if (byte.length === 0) {
        throw createError('ZC_ERR_FILE_TRUNCATED', [bytes, bodyLength(parts)], { bytesWritten: bytes, method });
      }
      assertUnchanged(isUnchanged!, bytes, bodyLength(parts));
      pending.splice(tail.at, 0, byte);
    }
  } catch (error) {
    await tail?.read.catch(() => {});
    throw error;
  }
  if (head) {
    // No sendfile ran (the body was only the held-back byte): Node sends head and body itself.
    res.end(Buffer.concat(pending));
    return { bytes: bytes + bodyLength(pending), method: 'copy', reason: 'last-byte-only' };
  }
  const rest = pending.length > 0 ? Buffer.concat(pending) : undefined;
  if (rest) bytes += rest.length;
  const result: BodyResult = method === 'copy' ? { bytes, method, reason: reason ?? 'kernel-refused' } : { bytes, method };
  return rest ? { ...result, rest } : result;
}

// Errors leave writeResponse saying which path failed (transfer errors
// already do; socket and read errors do not).
function withMethod(error: unknown, method: 'copy' | 'sendfile'): unknown {
  if (typeof error === 'object' && error !== null && (error as { method?: unknown }).method === undefined) {
    (error as { method?: string }).method = method;
  }
  return error;
}

/** Why the body cannot (or must not) go out with sendfile, or undefined when it can. */
function copyReasonOf(res: ServerResponse, socket: net.Socket, fd: number | undefined, options: WriteBodyOptions): CopyReason | undefined {
  // First: an HTTP/2 compat response's `socket` is a Proxy that reports the
  // connection's own net.Socket (fd included) for h2c; raw bytes there would
  // corrupt the connection's framing.
  if ((res.req?.httpVersionMajor ?? 1) >= 2) return 'http2';
  if ((socket as unknown as { encrypted?: boolean }).encrypted === true) return 'tls';
  if (!isNativeAvailable()) return 'no-addon';
  if (options.method === 'copy') return 'forced';
  if (fd === undefined) return 'no-socket-fd';
  return undefined;
}

/**
 * Sends the response whose status and headers are already set on `res`
 * (including a Content-Length equal to bodyLength(parts)), then its body, and
 * ends it. Regions are read with sendfile(2) at their offsets (file
 * positions untouched); the caller keeps ownership of the fds and may close
 * them once this settles. HEAD requests get the head only.
 *
 * On any failure after the head went out, the connection is destroyed (so
 * the client can tell the body is incomplete) and the error is rethrown,
 * with `method` ('sendfile' or 'copy') set when it did not say already.
 * Resolves with the bytes, the method and, for 'copy', the reason.
 */
export async function writeResponse(res: ServerResponse, parts: readonly BodyPart[], options: WriteBodyOptions = {}): Promise<BodyResult> {
  const total = bodyLength(parts);
  if (res.req?.method === 'HEAD' || total === 0) {
    res.end();
    return { bytes: 0, method: 'none' };
  }
  // Node's own accounting never sees native bytes: the Content-Length check
  // would fail at end() (FEASIBILITY §4).
  res.strictContentLength = false;
  let socket: net.Socket;
  try {
    socket = await waitForSocket(res);
  } catch (error) {
    res.destroy();
    throw error;
  }
  const fd = socketFd(socket);
  const reason = copyReasonOf(res, socket, fd, options);
  if (reason !== undefined) {
    try {
      const bytes = await copyParts(res, parts, options.isUnchanged);
      res.end();
      return { bytes, method: 'copy', reason };
    } catch (error) {
      res.destroy();
      throw withMethod(error, 'copy');
    }
  }

  const headerMode = options.headerMode ?? 'cork';
  const cork = headerMode === 'cork';
  if (cork) setTcpCork(socket, true);
  try {
    const { rest, ...result } = await sendParts(res, socket, parts, headerMode, options.isUnchanged);
    if (!res.writableEnded) res.end(rest);
    return result;
  } catch (error) {
    res.destroy();
    throw withMethod(error, 'sendfile');
  } finally {
    // A socket left corked would hold the last partial segment for up to 200 ms.
    if (cork && !socket.destroyed) setTcpCork(socket, false);
  }
}
