/**
 * receiveToFile: bytes arriving on a socket written into a file without
 * passing through a JavaScript buffer: socket → pooled pipe → file with
 * splice(2), the way `splice()` moves socket bytes anywhere else.
 *
 *   peer ──TCP──▶ socket ──splice──▶ pipe (1 MiB, pooled) ──splice──▶ file @ position
 *                   └─ bytes Node had already read: written first, in order
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import net from 'node:net';

import { createAbortError, createError } from '../errors.js';
import { fallbackChannel } from '../diagnostics.js';
import { getNative } from '../native/capabilities.js';
import { assertFd, socketFd, socketGoneError } from './endpoint.js';
import { recordFallback, trackInFlight } from './metrics.js';
import { checkByteCount, checkMethod, checkOptionsObject, checkSignal } from './options.js';
import type { PipePool } from './pipe-pool.js';
import { reportTransfer, type TransferResult } from './run.js';
import { splice } from './splice.js';

export interface ReceiveToFileOptions {
  /**
   * Where in the file to write. Omitted: at the fd's current position,
   * advancing it like write(2) (a path is opened at 0). Given: the position
   * is neither used nor moved, and the bytes are copied (see below).
   */
  offset?: number;
  /** Bytes to receive. Omitted: until the peer ends the stream. */
  count?: number;
  signal?: AbortSignal;
  /** 'copy' reads through Node and writes with pwrite (for comparison and tests). */
  method?: 'auto' | 'copy';
  /** Pool for the socket → file pipe; defaults to the process-wide pool. */
  pipePool?: PipePool;
}

export type ReceiveTarget = number | string | URL | FileHandle;

function isFileHandle(value: unknown): value is FileHandle {
  return typeof value === 'object' && value !== null && typeof (value as FileHandle).fd === 'number' &&
    typeof (value as FileHandle).stat === 'function';
}

/**
 * Reads `socket` through Node (its 'data' events) and writes each chunk at
 * `position` (pwrite) or at the fd's position (`null`), with backpressure:
 * the socket is paused while a write is in flight. Bytes past `count` go
 * back to the socket (unshift). Ends paused, like the splice path.
 */
function receiveByCopy(socket: net.Socket, fd: number, position: number | null, count: number | undefined, signal: AbortSignal | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let writing = false;
    let ended = false;
    let settled = false;
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      socket.pause();
    };
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      if (error) {
        (error as { bytesWritten?: number }).bytesWritten ??= received;
        (error as { method?: string }).method ??= 'copy';
        reject(error);
      } else {
        resolve(received);
      }
    };
    const isDone = () => count !== undefined && received >= count;
    const onEnd = () => {
      ended = true;
      if (writing) return;
      if (count === undefined || isDone()) finish();
      else finish(createError('ZC_ERR_UNEXPECTED_EOF', [received, count], { bytesWritten: received, method: 'copy' }));
    };
    const onClose = () => {
      if (!ended && !writing) finish(socketGoneError(socket, { bytesWritten: received, method: 'copy' }));
    };
    const onAbort = () => finish(createAbortError(signal, { bytesWritten: received, method: 'copy' }));
    const onData = (chunk: Buffer) => {
      let piece = chunk;
      if (count !== undefined && received + chunk.length > count) {
        piece = chunk.subarray(0, count - received);
        socket.unshift(chunk.subarray(count - received));
      }
      writing = true;
      socket.pause();
      const at = position === null ? null : position + received;
      writeFully(fd, piece, at, (error) => {
        writing = false;
        if (error) return finish(error);
        received += piece.length;
        if (isDone()) return finish();
        if (ended) return onEnd();
        if (socket.destroyed) return onClose();
        if (!settled) socket.resume();
      });
    };
    if (signal?.aborted) return onAbort();
    if (count === 0) return finish();
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    if (socket.readableEnded) return onEnd();
    socket.resume();
  });
}

/** O_APPEND, as Linux reports it in /proc/self/fdinfo (octal `flags:`). */
const O_APPEND_FLAG = 0o2000;

/**
 * Whether `fd` was opened with O_APPEND, which splice(2) refuses as a
 * destination (EINVAL). Asked before the transfer, not learned from the
 * EINVAL: by then the first splice has pulled socket bytes into the pipe,
 * and the engine's copy fallback would start after them (those bytes would
 * be lost with the pipe). Removal condition: the engine drains a pipe it
 * filled from a socket before it falls back.
 */
function isAppendOnly(fd: number): boolean {
  try {
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
    const flags = /^flags:\s*([0-7]+)/m.exec(info);
    return flags !== null && (parseInt(flags[1]!, 8) & O_APPEND_FLAG) !== 0;
  } catch {
    return false; // no procfs: let the kernel decide
  }
}

function writeFully(fd: number, data: Buffer, position: number | null, done: (error?: Error) => void): void {
  fs.write(fd, data, 0, data.length, position, (error, written) => {
    if (error) return done(error);
    if (written === data.length) return done();
    writeFully(fd, data.subarray(written), position === null ? null : position + written, done);
  });
}

/**
 * Receives bytes from `socket` into `file` (an fd, a FileHandle, or a path
 * opened here for writing — created if missing, never truncated) without
 * them entering JavaScript: splice(2) from the socket into a pooled pipe and
 * from the pipe into the file. Bytes Node had already read from the socket
 * are written first, in order; Node stops reading the socket, and after this
 * settles it still does not read it (`socket.resume()` hands it back). Bytes
 * past `count` stay in the socket.
 *
 * Where: at the fd's current position (advancing it); a path from 0. With
 * `offset`, at that offset without moving the position — the kernel path
 * cannot (the engine's splice jobs write at the position), so those bytes are
 * copied through Node with pwrite, reported as method 'copy' and counted in
 * metrics().fallbacks ('splice:destination-offset').
 *
 * Falls back to copying (reported) for an O_APPEND fd (splice refuses those),
 * where the file system refuses splice into the file, without the addon, or
 * when the pipe pool is exhausted. A stream that ends before
 * `count` fails with ZC_ERR_UNEXPECTED_EOF carrying `bytesWritten`; the file
 * then holds those bytes (nothing is rolled back).
 */
export async function receiveToFile(socket: net.Socket, file: ReceiveTarget, options?: ReceiveToFileOptions): Promise<TransferResult> {
  const opts = checkOptionsObject<ReceiveToFileOptions>(options);
  const offset = checkByteCount(opts.offset, 'options.offset');
  const count = checkByteCount(opts.count, 'options.count');
  const signal = checkSignal(opts.signal);
  const forced = checkMethod(opts.method, ['auto', 'copy'] as const);
  if (!(socket instanceof net.Socket)) throw createError('ZC_ERR_INVALID_ARG', ['socket', 'a net.Socket', socket]);
  if (socket.destroyed) throw socketGoneError(socket, { bytesWritten: 0 });
  if (signal?.aborted) throw createAbortError(signal, { bytesWritten: 0 });

  if (count === 0) return { bytes: 0, method: forced === 'copy' ? 'copy' : 'splice' };
  let fd: number;
  let close = async () => {};
  const isPath = typeof file === 'string' || file instanceof URL;
  if (isPath) {
    const handle = await fs.promises.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o666);
    fd = handle.fd;
    close = () => handle.close();
  } else if (isFileHandle(file)) {
    fd = file.fd;
  } else {
    assertFd(file, 'file');
    fd = file;
  }
  try {
    const native = getNative();
    // A path's fresh fd sits at 0, so offset 0 there is the position itself.
    const atPosition = offset === undefined || (isPath && offset === 0);
    const copyReason = forced === 'copy' ? undefined
      : native === null ? 'no-addon'
      : !atPosition ? 'destination-offset'
      : !isPath && isAppendOnly(fd) ? 'append-only-destination'
      : undefined;
    if (forced === 'copy' || copyReason !== undefined) {
      if (copyReason !== undefined && copyReason !== 'no-addon') {
        // destination-offset: removal condition, the engine's splice job gains an off_out slot.
        recordFallback(`splice:${copyReason}`);
        if (fallbackChannel.hasSubscribers) fallbackChannel.publish({ from: 'splice', to: 'copy', reason: copyReason });
      }
      // Whatever Node buffered is delivered first by the stream itself.
      trackInFlight(1);
      try {
        const position = offset ?? null;
        const inFd = socketFd(socket) ?? -1;
        const bytes = await receiveByCopy(socket, fd, position, count, signal).catch((error) => {
          reportTransfer('copy', { moved: (error as { bytesWritten?: number }).bytesWritten ?? 0, syscalls: 0, offloads: 0 }, fd, inFd, error);
          throw error;
        });
        reportTransfer('copy', { moved: bytes, syscalls: 0, offloads: 0 }, fd, inFd, undefined);
        return { bytes, method: 'copy' };
      } finally {
        trackInFlight(-1);
      }
    }
    // offset 0 on a path: the fresh fd's position is 0 already.
    return await splice(socket, fd, {
      ...(count !== undefined ? { length: count } : {}),
      ...(signal ? { signal } : {}),
      ...(opts.pipePool ? { pipePool: opts.pipePool } : {}),
    });
  } finally {
    await close();
  }
}
