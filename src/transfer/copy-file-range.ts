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

function fstatBig(fd: number): Promise<fs.BigIntStats> {
  return new Promise((resolve, reject) => {
    fs.fstat(fd, { bigint: true }, (error, stats) => (error ? reject(error) : resolve(stats)));
  });
}

function isSameInode(a: fs.BigIntStats, b: fs.BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Opens (paths) or adopts (fds, FileHandles) the destination. A path is
 * opened without O_TRUNC and compared with the source by (st_dev, st_ino)
 * first: the same file reached through the same path, a symlink, a hard link
 * or `..` is refused before a byte of it is lost. Only then is it truncated.
 */
async function openDestination(dst: SourceInput, source: Source, sourceStats: fs.BigIntStats, sourceLabel: string): Promise<Source> {
  if (typeof dst === 'string' || dst instanceof URL) {
    const handle = await fs.promises.open(dst, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o666);
    try {
      const stats = await fstatBig(handle.fd);
      if (isSameInode(stats, sourceStats)) {
        throw createError('ZC_ERR_SAME_FILE', [source.path ?? sourceLabel, String(dst)]);
      }
      // Devices and FIFOs ignore O_TRUNC, and ftruncate fails on them (EINVAL): only files are emptied.
      if (stats.isFile()) await handle.truncate(0);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return { fd: handle.fd, kind: 'file', path: String(dst), close: () => handle.close() };
  }
  return holdOwnDescriptor(await openSource(dst, 'dst'));
}

/** Offsets and length of a copy inside one inode, after the checks that keep it finite. */
interface SameFileRanges {
  offset: number;
  dstOffset: number;
  length: number;
}

/**
 * A copy between two fds of one inode is only well defined between disjoint
 * ranges: an overlapping one reads its own output (copy to EOF from 0 to 4
 * never ends, it grows the file until the disk is full). The kernel refuses
 * overlap itself since Linux 5.3 (EINVAL), but the read/write fallback would
 * not, so it is decided here. A path source was opened here, so its offset
 * defaults to 0; an fd's file position cannot be read from Node, so a
 * missing offset is refused rather than guessed. `length` omitted means
 * "to the EOF of now": the copy may extend the file, and must not chase it.
 */
function checkSameFileRanges(
  source: Source,
  sourceStats: fs.BigIntStats,
  offset: number | undefined,
  dstOffset: number | undefined,
  length: number | undefined,
): SameFileRanges {
  const srcStart = offset ?? (source.path !== undefined ? 0 : undefined);
  if (srcStart === undefined) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.offset', 'a byte offset when src and dst are the same file', offset]);
  }
  if (dstOffset === undefined) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.dstOffset', 'a byte offset when src and dst are the same file', dstOffset]);
  }
  const size = Number(sourceStats.size);
  const bytes = length ?? Math.max(0, size - srcStart);
  if (bytes > 0 && srcStart < dstOffset + bytes && dstOffset < srcStart + bytes) {
    throw createError('ZC_ERR_OVERLAPPING_RANGES', [srcStart, dstOffset, bytes]);
  }
  return { offset: srcStart, dstOffset, length: bytes };
}

/**
 * Copies `length` bytes (or to EOF) from `src` to `dst`. Paths are opened
 * here (`dst` is created or truncated) and closed before settling; fds and
 * FileHandles stay the caller's. Falls back to read/write when the kernel
 * cannot copy between these files (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP) before
 * any byte moved. Resolves with `{ bytes, method }`.
 *
 * Never copies a file onto itself: a `dst` path that is the source's inode
 * (any path, symlink or hard link to it) rejects with ZC_ERR_SAME_FILE
 * before it is truncated. Two fds of one inode may copy between disjoint
 * ranges only: overlapping ranges reject with ZC_ERR_OVERLAPPING_RANGES, and
 * both offsets must then be given (ZC_ERR_INVALID_ARG), except a path
 * source's, which starts at 0. Nothing is written when these checks fail.
 */
export async function copyFileRange(src: SourceInput, dst: SourceInput, options?: CopyFileRangeOptions): Promise<TransferResult> {
  const opts = checkOptionsObject<CopyFileRangeOptions>(options);
  let offset = checkByteCount(opts.offset, 'options.offset');
  let dstOffset = checkByteCount(opts.dstOffset, 'options.dstOffset');
  let length = checkByteCount(opts.length, 'options.length');
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
    const sourceStats = await fstatBig(source.fd);
    target = await openDestination(dst, source, sourceStats, typeof src === 'number' ? `fd ${src}` : typeof src === 'object' && !(src instanceof URL) ? `fd ${src.fd}` : String(src));
    if (isSameInode(await fstatBig(target.fd), sourceStats)) {
      ({ offset, dstOffset, length } = checkSameFileRanges(source, sourceStats, offset, dstOffset, length));
    }
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
