/**
 * The transfer path without the addon (other platforms, ZEROCOPY_NATIVE=0)
 * and for destinations the kernel cannot reach (TLS sockets): read into one
 * reused buffer, write it out, repeat. Slower, but byte-for-byte the same
 * contract as the kernel paths, including truncation errors.
 */
import fs from 'node:fs';

import { createAbortError, createError } from '../errors.js';
import { readInto } from '../fs/descriptors.js';
import { socketGoneError, type Source, type Target } from './endpoint.js';

/** 256 KiB: big enough that per-chunk overhead is small, small enough to stay out of the old GC space. */
export const FALLBACK_CHUNK_BYTES = 256 << 10;
/** Non-blocking fds (pipes, sockets passed as numbers) report EAGAIN; without
 * the addon there is no readiness to wait for, so back off and retry. */
const EAGAIN_RETRY_MIN_MS = 1;
const EAGAIN_RETRY_MAX_MS = 50;

export interface CopyOptions {
  /** Source offset; undefined reads from (and advances) the file position. */
  offset?: number | undefined;
  /** Bytes to copy; undefined copies until EOF. */
  length?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Bytes written before the body. */
  head?: Buffer | undefined;
  /** Destination offset (pwrite); undefined writes at (and advances) the fd's position. */
  targetOffset?: number | undefined;
  /** Called with the bytes written so far (head included) after every chunk. */
  onProgress?: ((bytes: number) => void) | undefined;
}

export interface CopyResult {
  bytes: number;
  headSent: number;
}

function isEagain(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EAGAIN';
}

async function retryOnEagain<T>(operation: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  let delay = EAGAIN_RETRY_MIN_MS;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!isEagain(error)) throw error;
      if (signal?.aborted) throw createAbortError(signal);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, EAGAIN_RETRY_MAX_MS);
    }
  }
}

function writeFromFd(fd: number, data: Buffer, position: number | null): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, data, 0, data.length, position, (error, written) => (error ? reject(error) : resolve(written)));
  });
}

/** Writes all of `data` to `target`; resolves once the buffer may be reused. */
export async function writeAll(target: Target, data: Buffer, signal: AbortSignal | undefined, position: number | null = null): Promise<void> {
  if (target.socket) {
    const socket = target.socket;
    if (socket.destroyed) throw socketGoneError(socket);
    await new Promise<void>((resolve, reject) => {
      // The callback fires once Node is done with `data`, so the buffer can be reused.
      socket.write(data, (error) => (error ? reject(error) : resolve()));
    });
    // Node calls it without an error when the socket was destroyed meanwhile
    // (a reset its read noticed first): then the bytes may never have left.
    if (socket.destroyed) throw socketGoneError(socket);
    return;
  }
  let offset = 0;
  while (offset < data.length) {
    const at = position === null ? null : position + offset;
    offset += await retryOnEagain(() => writeFromFd(target.fd, data.subarray(offset), at), signal);
  }
}

/**
 * Copies from `source` to `target` through user space. Errors after the
 * first byte carry `bytesWritten`; a source shorter than `length` fails with
 * ZC_ERR_FILE_TRUNCATED (files) or ZC_ERR_UNEXPECTED_EOF (streams).
 */
export async function copyThroughUserSpace(source: Source, target: Target, options: CopyOptions): Promise<CopyResult> {
  const { signal, length } = options;
  let position = options.offset ?? null;
  let bytes = 0;
  let headSent = 0;
  const fail = (error: Error & { bytesWritten?: number; method?: string }) => {
    error.bytesWritten ??= bytes;
    error.method ??= 'copy';
    return error;
  };
  try {
    if (options.head && options.head.length > 0) {
      await writeAll(target, options.head, signal);
      headSent = options.head.length;
    }
    const buffer = Buffer.allocUnsafe(length === undefined ? FALLBACK_CHUNK_BYTES : Math.max(1, Math.min(FALLBACK_CHUNK_BYTES, length)));
    while (length === undefined || bytes < length) {
      if (signal?.aborted) throw createAbortError(signal, { bytesWritten: bytes, method: 'copy' });
      const want = length === undefined ? buffer.length : Math.min(buffer.length, length - bytes);
      const got = await retryOnEagain(() => readInto(source.fd, buffer, want, position), signal);
      if (got === 0) {
        if (length === undefined) break;
        const code = source.kind === 'file' ? 'ZC_ERR_FILE_TRUNCATED' : 'ZC_ERR_UNEXPECTED_EOF';
        throw createError(code, [bytes, length], { bytesWritten: bytes, method: 'copy' });
      }
      if (position !== null) position += got;
      const at = options.targetOffset === undefined ? null : options.targetOffset + bytes;
      await writeAll(target, buffer.subarray(0, got), signal, at);
      bytes += got;
      options.onProgress?.(bytes + headSent);
    }
    return { bytes, headSent };
  } catch (error) {
    throw fail(error as Error);
  }
}
