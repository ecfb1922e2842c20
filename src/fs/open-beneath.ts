/**
 * Opening a file inside a root directory without a check-then-open race: the
 * file-system primitive behind the static server's jail, in the library
 * layer (DESIGN.md: http/ reaches the kernel only through it), where the
 * segment log or the CLI can use it too.
 *
 * Where the kernel has openat2(2) (Linux 5.6+), the path is resolved by the
 * kernel relative to an fd of the root with RESOLVE_BENEATH: any `..` or
 * symlink that would leave the root fails with EXDEV, atomically, and
 * RESOLVE_NO_MAGICLINKS refuses /proc-style magic links. Elsewhere the file
 * is opened and then its real path is checked through the opened fd
 * (/proc/self/fd/N), so what is checked is what was opened.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { getNative } from '../native/capabilities.js';
import { createSystemError, errnoOf } from '../native/errno.js';

/** A served directory: its path, its real path and (on Linux) an fd for openat2. */
export interface Root {
  path: string;
  realPath: string;
  /** O_PATH | O_DIRECTORY fd of the root, or -1 where openat2 is not used. */
  fd: number;
}

export interface OpenOptions {
  /** Follow symlinks even when they lead outside the root (default false). */
  followSymlinks?: boolean;
}

let openat2Missing = false;

/** Opens a root once per server; `closeRoot` releases it. Throws ENOENT/ENOTDIR like fs. */
export async function openRoot(rootPath: string): Promise<Root> {
  const resolved = path.resolve(rootPath);
  const realPath = await fs.promises.realpath(resolved);
  const stats = await fs.promises.stat(realPath);
  if (!stats.isDirectory()) throw createSystemError(errnoOf('ENOTDIR'), 'open', { path: resolved });
  let fd = -1;
  const native = getNative();
  if (native && !openat2Missing) {
    const c = native.constants;
    // O_PATH: the fd only anchors lookups; it grants no read access itself.
    fd = await native.openat2(-100 /* AT_FDCWD */, realPath, c.O_PATH | c.O_DIRECTORY, 0, 0);
    if (fd === errnoOf('ENOSYS')) {
      openat2Missing = true;
      fd = -1;
    } else if (fd < 0) {
      throw createSystemError(fd, 'openat2', { path: realPath });
    }
  }
  return { path: resolved, realPath, fd };
}

export function closeRoot(root: Root): void {
  if (root.fd >= 0) fs.closeSync(root.fd);
  root.fd = -1;
}

function isInside(realRoot: string, candidate: string): boolean {
  return candidate === realRoot || candidate.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep);
}

// A raw fd, not a FileHandle: the fd outlives this call and must not be
// closed by a FileHandle's garbage collection.
const openFd = promisify(fs.open) as (file: string, flags: number) => Promise<number>;
const closeFd = promisify(fs.close);

async function openAndVerify(root: Root, relative: string, options: OpenOptions): Promise<number> {
  const full = path.join(root.realPath, relative);
  const fd = await openFd(full, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  if (options.followSymlinks) return fd;
  try {
    const real = process.platform === 'linux' ? await fs.promises.readlink(`/proc/self/fd/${fd}`) : await fs.promises.realpath(full);
    if (!isInside(root.realPath, real)) throw createSystemError(errnoOf('EXDEV'), 'open', { path: relative });
    return fd;
  } catch (error) {
    await closeFd(fd);
    throw error;
  }
}

/**
 * Opens `relative` (already cleaned of `..`, NUL and separators tricks by
 * resolve-path.ts) beneath `root`, read-only and non-blocking (a FIFO placed
 * in the root cannot hang the open). Resolves with an fd the caller owns.
 * Rejects with a system error: EXDEV when the path would leave the root
 * (a symlink escape, refused unless followSymlinks), ELOOP, ENOENT, EACCES, …
 */
export async function openBeneath(root: Root, relative: string, options: OpenOptions = {}): Promise<number> {
  const native = getNative();
  if (native === null || root.fd < 0 || openat2Missing) return openAndVerify(root, relative, options);
  const c = native.constants;
  const resolve = options.followSymlinks ? c.RESOLVE_NO_MAGICLINKS : c.RESOLVE_BENEATH | c.RESOLVE_NO_MAGICLINKS;
  const fd = await native.openat2(root.fd, relative === '' ? '.' : relative, c.O_RDONLY | c.O_NONBLOCK, 0, resolve);
  if (fd === errnoOf('ENOSYS')) {
    openat2Missing = true;
    return openAndVerify(root, relative, options);
  }
  if (fd < 0) throw createSystemError(fd, 'openat2', { path: relative });
  return fd;
}
