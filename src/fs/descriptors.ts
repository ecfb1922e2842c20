/**
 * Raw file descriptors as promises, for code that keeps an fd beyond one
 * call (the open-file cache, the jail's opens, copy loops) and so cannot use
 * FileHandle: a FileHandle closes its fd when it is garbage-collected. The
 * caller owns every fd these return and closes it with `closeDescriptor`.
 */
import fs from 'node:fs';

import { getNative } from '../native/capabilities.js';

/** open(2) on the threadpool: resolves an fd, rejects with Node's system error. */
export function openDescriptor(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(path, flags, (error, fd) => (error ? reject(error) : resolve(fd)));
  });
}

/** close(2) on the threadpool; never rejects (a close that fails has still released the fd on Linux). */
export function closeDescriptor(fd: number): Promise<void> {
  return new Promise((resolve) => {
    fs.close(fd, () => resolve());
  });
}

/** One pread (or read at the file position when `position` is null) into `buffer[0, length)`: the byte count, 0 at EOF. */
export function readInto(fd: number, buffer: Buffer, length: number, position: number | null, offset = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/**
 * `length` bytes at `position` read on the calling thread when they are in
 * the page cache (preadv2 RWF_NOWAIT, with the addon), else on the
 * threadpool: a small read that usually costs no thread hop. A short result
 * means the file ended.
 */
export async function readSmall(fd: number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  const native = getNative();
  const n = native === null ? -1 : native.readCached(fd, buffer, position);
  if (n >= 0) return buffer.subarray(0, n);
  return buffer.subarray(0, await readInto(fd, buffer, length, position));
}

/**
 * `length` bytes from `position` into a new buffer, in as many reads as it
 * takes; undefined when the file ends first (it shrank since it was stat'ed).
 */
export async function readRange(fd: number, length: number, position: number): Promise<Buffer | undefined> {
  const buffer = Buffer.allocUnsafe(length);
  for (let at = 0; at < length;) {
    const n = await readInto(fd, buffer, length - at, position + at, at);
    if (n === 0) return undefined;
    at += n;
  }
  return buffer;
}
