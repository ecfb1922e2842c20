/**
 * sendChain: buffers and file regions to one socket, in order, as one
 * transfer (nginx's `ngx_linux_sendfile_chain`, Kafka's `FileRecords.writeTo`).
 *
 *   parts:  [ Buffer "size|header" ][ Buffer "partition" ][ region seg0 120..4216 ][ region seg1 0..900 ][ Buffer "tail" ]
 *   wire:   └── head of job 1 (MSG_MORE) ───────────────┘└── sendfile job 1 ─────┘└── sendfile job 2 ─┘└── writev ──┘
 *           └──────────────────────── TCP_CORK on ……………………………………………………………………………………………… off ┘
 *
 * Buffers that come before a region ride as that region's head: one send
 * with MSG_MORE, then sendfile(2) for the region, so a small header never
 * leaves as a packet of its own. Buffers after the last region go out in one
 * writev through Node. The socket is corked (TCP_CORK, nginx's tcp_nopush)
 * for the whole chain, so segment boundaries fall where the MSS says, not
 * where parts end.
 */
import fs from 'node:fs';
import net from 'node:net';

import { createAbortError, createError } from '../errors.js';
import { getNative } from '../native/capabilities.js';
import { assertFd, prepareTarget, socketFd, type Target, type TargetInput } from './endpoint.js';
import { writeAll } from './copy-fallback.js';
import { checkByteCount, checkMethod, checkOptionsObject, checkSignal } from './options.js';
import { sendFile } from './sendfile.js';
import type { TransferMethod } from './metrics.js';

/** A slice of a file: `length` bytes from `offset`. Exactly one of `fd` or `path`. */
export interface ChainFileRegion {
  /** An open fd; stays the caller's (the transfer works on dup()s). */
  fd?: number;
  /** A path, opened (read-only) and closed by the chain. */
  path?: string | URL;
  offset: number;
  length: number;
}

/** One part of a chain: bytes in memory, or a region of a file. */
export type ChainPart = Buffer | Uint8Array | ChainFileRegion;

export interface SendChainOptions {
  signal?: AbortSignal;
  /** 'copy' reads regions into memory and writes them (for comparison, tests, benchmarks). */
  method?: 'auto' | 'copy';
}

/** How one part left: buffers are written ('write'), regions by the path their transfer took. */
export interface ChainPartResult {
  bytes: number;
  /** 'none' for an empty region (nothing to send). */
  method: TransferMethod | 'write' | 'none';
}

export interface ChainResult {
  /** Every byte of every part, buffers included. */
  bytes: number;
  /** 'sendfile' when every region went by sendfile, 'copy' when any was copied, 'write' without regions. */
  method: TransferMethod | 'write';
  /** One entry per part, in order. */
  parts: ChainPartResult[];
}

interface OpenRegion {
  fd: number;
  offset: number;
  length: number;
}

type Prepared = Buffer | OpenRegion;

function isRegionLike(value: unknown): value is ChainFileRegion {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
}

/** Validates the parts before anything is opened or sent (the better-sqlite3 pattern). */
function checkParts(parts: unknown): readonly (Buffer | ChainFileRegion)[] {
  if (!Array.isArray(parts)) throw createError('ZC_ERR_INVALID_ARG', ['parts', 'an array of Buffers and file regions', parts]);
  return parts.map((part, i) => {
    const name = `parts[${i}]`;
    if (part instanceof Uint8Array) return Buffer.isBuffer(part) ? part : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    if (!isRegionLike(part)) throw createError('ZC_ERR_INVALID_ARG', [name, 'a Buffer or { fd | path, offset, length }', part]);
    const hasFd = part.fd !== undefined;
    const hasPath = part.path !== undefined;
    if (hasFd === hasPath) throw createError('ZC_ERR_INVALID_ARG', [name, 'a region with exactly one of fd and path', part]);
    if (hasFd) assertFd(part.fd, `${name}.fd`);
    else if (typeof part.path !== 'string' && !(part.path instanceof URL)) {
      throw createError('ZC_ERR_INVALID_ARG', [`${name}.path`, 'a string or URL', part.path]);
    }
    if (checkByteCount(part.offset, `${name}.offset`) === undefined) throw createError('ZC_ERR_INVALID_ARG', [`${name}.offset`, 'a non-negative integer', part.offset]);
    if (checkByteCount(part.length, `${name}.length`) === undefined) throw createError('ZC_ERR_INVALID_ARG', [`${name}.length`, 'a non-negative integer', part.length]);
    return part;
  });
}

/**
 * Opens path regions (each path once) and checks that every region lies
 * inside its file, so a chain that cannot be sent whole fails before its
 * first byte. Returns the parts with fds, and the fds it opened.
 */
function openRegions(parts: readonly (Buffer | ChainFileRegion)[]): { prepared: Prepared[]; opened: number[] } {
  const opened: number[] = [];
  const byPath = new Map<string, number>();
  try {
    const prepared = parts.map((part, i): Prepared => {
      if (Buffer.isBuffer(part)) return part;
      let fd = part.fd;
      if (fd === undefined) {
        const key = String(part.path);
        fd = byPath.get(key);
        if (fd === undefined) {
          fd = fs.openSync(part.path!, 'r');
          opened.push(fd);
          byPath.set(key, fd);
        }
      }
      const stats = fs.fstatSync(fd);
      if (!stats.isFile() && !stats.isBlockDevice()) {
        throw createError('ZC_ERR_INVALID_ARG', [`parts[${i}]`, 'a region of a regular file', `fd ${fd}`]);
      }
      if (part.offset + part.length > stats.size) {
        throw createError('ZC_ERR_REGION_PAST_EOF', [part.offset, part.length, stats.size], { bytesWritten: 0 });
      }
      return { fd, offset: part.offset, length: part.length };
    });
    return { prepared, opened };
  } catch (error) {
    for (const fd of opened) fs.closeSync(fd);
    throw error;
  }
}

/** Writes buffers in order: one writev through Node for a socket, one write for an fd. */
async function writeBuffers(target: Target, buffers: Buffer[], signal: AbortSignal | undefined): Promise<void> {
  if (buffers.length === 0) return;
  if (!target.socket || buffers.length === 1) {
    await writeAll(target, buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers), signal);
    return;
  }
  const socket = target.socket;
  const written = buffers.map(
    (buffer) => new Promise<void>((resolve, reject) => socket.write(buffer, (error) => (error ? reject(error) : resolve()))),
  );
  // cork/uncork hands the queued buffers to libuv as one writev.
  socket.cork();
  socket.uncork();
  await Promise.all(written);
}

function withChainProgress(error: unknown, before: number): unknown {
  if (typeof error === 'object' && error !== null) {
    const e = error as { bytesWritten?: number };
    e.bytesWritten = before + (e.bytesWritten ?? 0);
  }
  return error;
}

function sum(buffers: readonly Buffer[]): number {
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  return total;
}

/**
 * Sends `parts` to `out` (a connected net.Socket or an fd) in order, as one
 * transfer: buffers from memory, file regions with sendfile(2) (copying
 * where the kernel refuses, per region, reported in `parts`). The socket is
 * corked until the last part is handed over, then uncorked.
 *
 * Every region is checked against its file's size before the first byte
 * goes out: a region past EOF fails with ZC_ERR_REGION_PAST_EOF and nothing
 * sent. A file truncated while the chain runs fails it with
 * ZC_ERR_FILE_TRUNCATED: never a short body presented as whole.
 *
 * Ownership: fds in regions stay the caller's and must stay open until this
 * settles; paths are opened and closed here. Nothing else may write to `out`
 * meanwhile. On failure the error carries `bytesWritten` (the parts before
 * the failing one, plus the failing region's body bytes; buffers just before
 * it may have been partly sent): the stream is then mid-message, and a
 * framed protocol must close the connection.
 */
export async function sendChain(out: TargetInput, parts: readonly ChainPart[], options?: SendChainOptions): Promise<ChainResult> {
  const opts = checkOptionsObject<SendChainOptions>(options);
  const signal = checkSignal(opts.signal);
  const forced = checkMethod(opts.method, ['auto', 'copy'] as const);
  const checked = checkParts(parts);
  if (!(out instanceof net.Socket)) assertFd(out, 'out');
  if (signal?.aborted) throw createAbortError(signal, { bytesWritten: 0 });

  const { prepared, opened } = openRegions(checked);
  const results: ChainPartResult[] = [];
  let bytes = 0;
  let method: ChainResult['method'] = 'write';
  let corked: { socket: net.Socket | undefined; fd: number } | undefined;
  const native = getNative();
  try {
    const target = await prepareTarget(out, 'out', signal);
    if (native !== null && target.kind === 'socket' && prepared.length > 1) {
      native.setCork(target.fd, 1);
      corked = { socket: target.socket, fd: target.fd };
    }
    let pending: Buffer[] = [];
    for (const part of prepared) {
      if (Buffer.isBuffer(part)) {
        pending.push(part);
        results.push({ bytes: part.length, method: 'write' });
        continue;
      }
      if (part.length === 0) {
        results.push({ bytes: 0, method: 'none' });
        continue;
      }
      const head = pending.length === 0 ? undefined : pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      const headBytes = sum(pending);
      pending = [];
      if (signal?.aborted) throw createAbortError(signal, { bytesWritten: bytes });
      let sent;
      try {
        sent = await sendFile(target.socket ?? target.fd, part.fd, {
          offset: part.offset,
          length: part.length,
          ...(head ? { prefix: head } : {}),
          ...(signal ? { signal } : {}),
          ...(forced ? { method: forced } : {}),
        });
      } catch (error) {
        throw withChainProgress(error, bytes);
      }
      bytes += headBytes + sent.bytes;
      results.push({ bytes: sent.bytes, method: sent.method });
      if (method === 'write' || sent.method === 'copy') method = sent.method;
    }
    try {
      await writeBuffers(target, pending, signal);
    } catch (error) {
      throw withChainProgress(error, bytes);
    }
    bytes += sum(pending);
    return { bytes, method, parts: results };
  } finally {
    if (corked && native !== null) {
      // For a net.Socket, the live fd read now: the number seen before the
      // awaits may belong to another connection if this socket closed
      // meanwhile. A numeric fd stays the caller's and stays valid.
      const fd = corked.socket ? (corked.socket.destroyed ? undefined : socketFd(corked.socket)) : corked.fd;
      // A socket left corked would hold the last partial segment for 200 ms.
      if (fd !== undefined) native.setCork(fd, 0);
    }
    for (const fd of opened) fs.closeSync(fd);
  }
}
