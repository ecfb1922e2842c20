/**
 * copyFileRange: file to file inside the kernel (copy_file_range(2)), which
 * on some file systems shares extents instead of copying (reflinks, NFS
 * server-side copy). Each call runs on the libuv threadpool, like fs.copyFile,
 * because it waits for the disk.
 */
import fs from 'node:fs';

import { createAbortError, createError } from '../errors.js';
import { describeUnsupported, getNative, isUnsupportedErrno } from '../native/capabilities.js';
import { createSystemError } from '../native/errno.js';
import type { NativeBinding } from '../native/binding.js';
import { fallbackChannel } from '../diagnostics.js';
import { copyThroughUserSpace } from './copy-fallback.js';
import { holdOwnDescriptor, openSource, type Source, type SourceInput } from './endpoint.js';
import { recordFallback, trackInFlight } from './metrics.js';
import { checkByteCount, checkMethod, checkOptionsObject, checkSignal } from './options.js';
import { reportTransfer, type TransferResult } from './run.js';

/** Bytes per copy_file_range call: small enough for a lively progress bar and
 * prompt aborts (a chunk takes ~10 ms from the page cache), large enough that
 * the threadpool round trip is noise. */
export const COPY_CHUNK_BYTES = 16 << 20;

export interface CopyFileRangeOptions {
  /** Source offset; omitted: the source's file position (used and advanced). */
  offset?: number;
  /** Destination offset; omitted: the destination's file position (used and advanced). */
  dstOffset?: number;
  /** Bytes to copy; omitted: until the source's EOF. */
  length?: number;
  signal?: AbortSignal;
  /** Called after every chunk with the bytes copied so far. */
  onProgress?: (bytes: number) => void;
  method?: 'auto' | 'copy';
}

interface KernelCopyOptions {
  offset: number | undefined;
  dstOffset: number | undefined;
  length: number | undefined;
  signal: AbortSignal | undefined;
  onProgress: ((bytes: number) => void) | undefined;
}

/** The copy_file_range loop; 'unsupported' when the first call says these files cannot use it. */
async function copyInKernel(
  native: NativeBinding,
  source: Source,
  target: Source,
  options: KernelCopyOptions,
): Promise<TransferResult | 'unsupported'> {
  const { length, signal } = options;
  let inOffset = options.offset ?? -1;
  let outOffset = options.dstOffset ?? -1;
  let bytes = 0;
  let calls = 0;
  const fail = (error: Error) => {
    reportTransfer('copy_file_range', { moved: bytes, syscalls: calls, offloads: 0 }, target.fd, source.fd, error);
    return error;
  };
  for (;;) {
    if (signal?.aborted) throw fail(createAbortError(signal, { bytesWritten: bytes, method: 'copy_file_range' }));
    const want = length === undefined ? COPY_CHUNK_BYTES : Math.min(COPY_CHUNK_BYTES, length - bytes);
    if (want === 0) break;
    const n = await native.copyFileRange(source.fd, inOffset, target.fd, outOffset, want);
    calls++;
    if (n < 0 && bytes === 0 && isUnsupportedErrno('copy_file_range', n)) {
      const why = describeUnsupported('copy_file_range', n) ?? 'unsupported';
      recordFallback(`copy_file_range:${why}`);
      if (fallbackChannel.hasSubscribers) fallbackChannel.publish({ from: 'copy_file_range', to: 'copy', errno: n, reason: why });
      return 'unsupported';
    }
    if (n < 0) throw fail(createSystemError(n, 'copy_file_range', { bytesWritten: bytes, method: 'copy_file_range', fd: source.fd }));
    if (n === 0) {
      if (length === undefined) break;
      throw fail(createError('ZC_ERR_FILE_TRUNCATED', [bytes, length], { bytesWritten: bytes, method: 'copy_file_range' }));
    }
    bytes += n;
    if (inOffset >= 0) inOffset += n;
    if (outOffset >= 0) outOffset += n;
    options.onProgress?.(bytes);
  }
  reportTransfer('copy_file_range', { moved: bytes, syscalls: calls, offloads: 0 }, target.fd, source.fd, undefined);
  return { bytes, method: 'copy_file_range' };
}

async function openDestination(dst: SourceInput): Promise<Source> {
  if (typeof dst === 'string' || dst instanceof URL) {
    const handle = await fs.promises.open(dst, 'w');
    return { fd: handle.fd, kind: 'file', path: String(dst), close: () => handle.close() };
  }
  return holdOwnDescriptor(await openSource(dst, 'dst'));
}

/**
 * Copies `length` bytes (or to EOF) from `src` to `dst`. Paths are opened
 * here (`dst` is created or truncated) and closed before settling; fds and
 * FileHandles stay the caller's. Falls back to read/write when the kernel
 * cannot copy between these files (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP) before
 * any byte moved. Resolves with `{ bytes, method }`.
 */
export async function copyFileRange(src: SourceInput, dst: SourceInput, options?: CopyFileRangeOptions): Promise<TransferResult> {
  const opts = checkOptionsObject<CopyFileRangeOptions>(options);
  const offset = checkByteCount(opts.offset, 'options.offset');
  const dstOffset = checkByteCount(opts.dstOffset, 'options.dstOffset');
  const length = checkByteCount(opts.length, 'options.length');
  const signal = checkSignal(opts.signal);
  const forced = checkMethod(opts.method, ['auto', 'copy'] as const);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw createError('ZC_ERR_INVALID_ARG', ['options.onProgress', 'a function', opts.onProgress]);
  }
  if (signal?.aborted) throw createAbortError(signal, { bytesWritten: 0 });

  // Every chunk is a separate call: both ends are held on our own dups.
  const source = holdOwnDescriptor(await openSource(src, 'src'));
  let target: Source | undefined;
  trackInFlight(1);
  try {
    target = await openDestination(dst);
    const native = getNative();
    if (native !== null && forced !== 'copy') {
      const done = await copyInKernel(native, source, target, { offset, dstOffset, length, signal, onProgress: opts.onProgress });
      if (done !== 'unsupported') return done;
    }
    const result = await copyThroughUserSpace(source, { fd: target.fd, kind: 'file' }, {
      offset,
      length,
      signal,
      targetOffset: dstOffset,
      onProgress: opts.onProgress,
    });
    reportTransfer('copy', { moved: result.bytes, syscalls: 0, offloads: 0 }, target.fd, source.fd, undefined);
    return { bytes: result.bytes, method: 'copy' };
  } finally {
    trackInFlight(-1);
    await target?.close();
    await source.close();
  }
}
