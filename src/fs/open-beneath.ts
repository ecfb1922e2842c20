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

import { getNative } from '../native/capabilities.js';
import { closeDescriptor, openDescriptor } from './descriptors.js';
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

/**
 * Whether openat2(2) can be used, decided once per process by opening the
 * current directory with RESOLVE_BENEATH. ENOSYS: the kernel predates it
 * (Linux < 5.6). EPERM: a seccomp profile refuses syscalls it does not know
 * (older Docker), which would otherwise make every request 403. Either way
 * the jail falls back to open + a realpath check of the opened fd.
 */
export interface Openat2Status {
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
}

let openat2Probe: Promise<Openat2Status> | undefined;

/** Probes openat2 once (see Openat2Status); later calls share the answer. */
export function probeOpenat2(): Promise<Openat2Status> {
  openat2Probe ??= (async () => {
    const native = getNative();
    if (native === null) return { available: false, reason: 'the native addon is not loaded' };
    const c = native.constants;
    const fd = await native.openat2(-100 /* AT_FDCWD */, '.', c.O_PATH | c.O_DIRECTORY, 0, c.RESOLVE_BENEATH);
    if (fd >= 0) {
      await closeDescriptor(fd);
      return { available: true };
    }
    if (fd === errnoOf('ENOSYS')) return { available: false, reason: 'ENOSYS: the kernel has no openat2 (Linux < 5.6)' };
    if (fd === errnoOf('EPERM')) return { available: false, reason: 'EPERM: refused, most likely by a seccomp profile' };
    // Any other answer (EACCES on the current directory, ...) proves the syscall exists.
    return { available: true };
  })();
  return openat2Probe;
}

/** Forgets the probe's answer, so a test can run it against another binding. */
export function resetOpenat2ProbeForTesting(): void {
  openat2Probe = undefined;
}

/** Opens a root once per server; `closeRoot` releases it. Throws ENOENT/ENOTDIR like fs. */
export async function openRoot(rootPath: string): Promise<Root> {
  const resolved = path.resolve(rootPath);
  const realPath = await fs.promises.realpath(resolved);
  const stats = await fs.promises.stat(realPath);
  if (!stats.isDirectory()) throw createSystemError(errnoOf('ENOTDIR'), 'open', { path: resolved });
  let fd = -1;
  const native = getNative();
  if (native && (await probeOpenat2()).available) {
    const c = native.constants;
    // O_PATH: the fd only anchors lookups; it grants no read access itself.
    fd = await native.openat2(-100 /* AT_FDCWD */, realPath, c.O_PATH | c.O_DIRECTORY, 0, 0);
    if (fd < 0) throw createSystemError(fd, 'openat2', { path: realPath });
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

async function openAndVerify(root: Root, relative: string, options: OpenOptions): Promise<number> {
  const full = path.join(root.realPath, relative);
  const fd = await openDescriptor(full, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  if (options.followSymlinks) return fd;
  try {
    const real = process.platform === 'linux' ? await fs.promises.readlink(`/proc/self/fd/${fd}`) : await fs.promises.realpath(full);
    if (!isInside(root.realPath, real)) throw createSystemError(errnoOf('EXDEV'), 'open', { path: relative });
    return fd;
  } catch (error) {
    await closeDescriptor(fd);
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
  // A root opened with openat2 has an fd: the probe already said yes.
  if (native === null || root.fd < 0) return openAndVerify(root, relative, options);
  const c = native.constants;
  const resolve = options.followSymlinks ? c.RESOLVE_NO_MAGICLINKS : c.RESOLVE_BENEATH | c.RESOLVE_NO_MAGICLINKS;
  const fd = await native.openat2(root.fd, relative === '' ? '.' : relative, c.O_RDONLY | c.O_NONBLOCK, 0, resolve);
  if (fd < 0) throw createSystemError(fd, 'openat2', { path: relative });
  return fd;
}
