/**
 * A file's version as the kernel reports it: which inode, its link count,
 * size, and modification and change times to the nanosecond. Caches compare
 * two versions to know, without reading a byte, whether a file may have
 * changed in between: the file-system primitive behind "never stale"
 * (DESIGN.md invariant 6) for the static server's open-file cache and for
 * anything else that keeps a file open across requests.
 *
 * Why comparing versions is exact here:
 *
 *  - Every write, truncate, fallocate, rename or unlink updates the inode's
 *    ctime; writes and truncates also set mtime to the same value. For
 *    buffered, direct and mmap writes the kernel updates the times BEFORE the
 *    new bytes become visible (file_modified() precedes generic_perform_write();
 *    page_mkwrite updates them before the page turns writable), so a reader
 *    that finds the version unchanged after reading knows that what it read
 *    is the old content. (FALLOC_FL_PUNCH_HOLE on ext4 updates the times
 *    after zeroing: the one path where bytes change before the version does.)
 *  - Timestamps are only as fine as the clock that stamps them. Linux 6.13
 *    added multigrain timestamps to ext4, xfs, btrfs and tmpfs: once a
 *    stat() has seen the ctime, the next change gets a fine-grained one,
 *    so a change after we looked is always visible (measured on this
 *    kernel, 6.18, ext4 and tmpfs: 0 equal versions in 20,000
 *    stat → rewrite-same-size → stat rounds). Elsewhere times come from the
 *    coarse clock (one tick, 1 to 10 ms): a file changed twice within one
 *    tick may show one version. `isProvable` says when a version read at a
 *    given moment is far enough from its ctime that any later change must
 *    show (git's "racily clean" rule).
 *  - Nanoseconds need BigInt: a double holding epoch milliseconds has a
 *    resolution of about 240 ns today, and two fine-grained ctimes can be
 *    closer than that.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { getNative } from '../native/capabilities.js';

/** What a version is made of (all from one stat). */
export interface FileVersion {
  dev: bigint;
  ino: bigint;
  nlink: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /**
   * The same fields as numbers, in the addon's order (Packed below), for
   * comparing against a stat written into a Float64Array: the per-request
   * checks allocate nothing. Seconds and nanoseconds apart, so every field
   * is exact in a double (dev, ino and size below 2^53, as on every local
   * file system).
   */
  packed: Float64Array;
}

/** Slots of a packed version (native/src/linux.c zc__version_of). */
const enum Packed {
  Dev = 0,
  Ino,
  Nlink,
  Size,
  MtimeSec,
  MtimeNsec,
  CtimeSec,
  CtimeNsec,
  Slots,
}

const NS_PER_SECOND = 1_000_000_000n;

function pack(v: Omit<FileVersion, 'packed'>): Float64Array {
  const packed = new Float64Array(Packed.Slots);
  packed[Packed.Dev] = Number(v.dev);
  packed[Packed.Ino] = Number(v.ino);
  packed[Packed.Nlink] = Number(v.nlink);
  packed[Packed.Size] = Number(v.size);
  packed[Packed.MtimeSec] = Number(v.mtimeNs / NS_PER_SECOND);
  packed[Packed.MtimeNsec] = Number(v.mtimeNs % NS_PER_SECOND);
  packed[Packed.CtimeSec] = Number(v.ctimeNs / NS_PER_SECOND);
  packed[Packed.CtimeNsec] = Number(v.ctimeNs % NS_PER_SECOND);
  return packed;
}

/** Where the per-request checks have the kernel write a stat: one per thread, reused. */
const scratch = new Float64Array(Packed.Slots);

/**
 * On file systems without multigrain timestamps, a version read this close
 * to its ctime cannot prove that a later change will show: one clock tick
 * (at most 10 ms at HZ=100) plus a margin for the coarse clock lagging the
 * real-time clock that `Date.now()` reads.
 */
export const RACY_WINDOW_MS = 50;

function versionOf(stats: fs.BigIntStats): FileVersion {
  const fields = { dev: stats.dev, ino: stats.ino, nlink: stats.nlink, size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs };
  return { ...fields, packed: pack(fields) };
}

/**
 * The version of an open file (fstat). Synchronous on purpose: an open fd
 * pins its inode in memory, so fstat never waits for the disk (~1.2 µs
 * measured here). Throws the fstat error (EBADF for a closed fd).
 */
export function readVersion(fd: number): FileVersion {
  return versionOf(fs.fstatSync(fd, { bigint: true }));
}

/**
 * The number `fs.Stats` callers show to users (setHeaders, ETags) together
 * with the version, both describing one state of the file: read again if a
 * change slipped between the two fstats. Synchronous, like readVersion.
 */
export function readStatsAndVersion(fd: number): { stats: fs.Stats; version: FileVersion } {
  for (;;) {
    const version = readVersion(fd);
    const stats = fs.fstatSync(fd);
    if (isSameVersion(readVersion(fd), version)) return { stats, version };
  }
}

/**
 * The version of whatever `path` names now (stat, following symlinks), or
 * undefined when it names nothing statable (ENOENT, ENOTDIR, EACCES …): the
 * caller then opens the path again and reports that open's error.
 * Synchronous: ~2.3 µs measured here for a five-component path whose
 * dentries are cached (see file-cache.ts for why they are).
 */
export function statVersion(path: string): FileVersion | undefined {
  try {
    const stats = fs.statSync(path, { bigint: true, throwIfNoEntry: false });
    return stats === undefined ? undefined : versionOf(stats);
  } catch {
    return undefined;
  }
}

function samePacked(a: Float64Array, b: Float64Array): boolean {
  return a[Packed.Ino] === b[Packed.Ino] && a[Packed.Dev] === b[Packed.Dev] && a[Packed.Size] === b[Packed.Size] &&
    a[Packed.MtimeSec] === b[Packed.MtimeSec] && a[Packed.MtimeNsec] === b[Packed.MtimeNsec] &&
    a[Packed.CtimeSec] === b[Packed.CtimeSec] && a[Packed.CtimeNsec] === b[Packed.CtimeNsec] && a[Packed.Nlink] === b[Packed.Nlink];
}

/**
 * True when what `relative` names beneath the directory `dirfd` (an fd of
 * `dirPath`; -1 to use the path) is still exactly `version`: isSameVersion(statVersion(…)),
 * the per-request check of the static server's cache. With the addon it is
 * one fstatat relative to the root's fd written into a reused array (~1.5 µs
 * against 3 µs for fs.statSync, which also walks every component of the
 * absolute path and builds a Stats object).
 */
export function pathHasVersion(dirfd: number, dirPath: string, relative: string, version: FileVersion): boolean {
  const native = getNative();
  if (native === null) {
    const current = statVersion(path.join(dirPath, relative));
    return current !== undefined && isSameVersion(current, version);
  }
  const r = dirfd >= 0 ? native.statVersionAt(dirfd, relative === '' ? '.' : relative, scratch)
    : native.statVersionAt(-100 /* AT_FDCWD */, path.join(dirPath, relative), scratch);
  return r === 0 && samePacked(scratch, version.packed);
}

/**
 * hasSameContent(before, readVersion(fd)) without building a version: one
 * fstat into a reused array with the addon (~0.8 µs).
 */
export function fdHasSameContent(fd: number, before: FileVersion): boolean {
  const native = getNative();
  if (native === null) return hasSameContent(before, readVersion(fd));
  if (native.fstatVersion(fd, scratch) !== 0) return false;
  const b = before.packed;
  if (scratch[Packed.Ino] !== b[Packed.Ino] || scratch[Packed.Dev] !== b[Packed.Dev] || scratch[Packed.Size] !== b[Packed.Size] ||
      scratch[Packed.MtimeSec] !== b[Packed.MtimeSec] || scratch[Packed.MtimeNsec] !== b[Packed.MtimeNsec]) return false;
  const sameCtime = scratch[Packed.CtimeSec] === b[Packed.CtimeSec] && scratch[Packed.CtimeNsec] === b[Packed.CtimeNsec];
  return sameCtime || scratch[Packed.Nlink]! < b[Packed.Nlink]!;
}

/** True when `a` and `b` are the same inode in the same state: nothing was written, truncated, renamed, linked or chmod-ed in between. */
export function isSameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs &&
    a.nlink === b.nlink;
}

/**
 * True when an open file's bytes are those it had at `before` (`now` read
 * from the same fd later): same size and mtime, and either the same ctime or
 * a ctime explained by a lower link count — the file was renamed over or
 * unlinked, which changes its ctime but never its bytes (the fd still reads
 * the old inode). A chmod alone also changes ctime and counts as a change:
 * rare, and the safe answer.
 */
export function hasSameContent(before: FileVersion, now: FileVersion): boolean {
  if (now.ino !== before.ino || now.dev !== before.dev || now.size !== before.size || now.mtimeNs !== before.mtimeNs) return false;
  return now.ctimeNs === before.ctimeNs || now.nlink < before.nlink;
}

// statfs f_type of the file systems that got multigrain timestamps in 6.13.
const MULTIGRAIN_FS_TYPES = new Set([
  0xef53, // ext4 (and ext2/ext3 mounted by the ext4 driver)
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
]);

let kernelHasMultigrain: boolean | undefined;
const exactByDevice = new Map<bigint, boolean>();
let exactOverride: boolean | undefined;

function hasMultigrainKernel(): boolean {
  if (kernelHasMultigrain === undefined) {
    const match = /^(\d+)\.(\d+)/.exec(os.release());
    const [major, minor] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
    kernelHasMultigrain = process.platform === 'linux' && (major > 6 || (major === 6 && minor >= 13));
  }
  return kernelHasMultigrain;
}

/**
 * Whether change times on the file system holding `path` (device `dev`)
 * are exact in the sense of the module comment: Linux ≥ 6.13 and ext4, xfs,
 * btrfs or tmpfs. Remembered per device; anything unknown (overlayfs, NFS,
 * FUSE, older kernels) is treated as coarse. One statfs per new device.
 */
export function hasExactChangeTimes(dev: bigint, path: string): boolean {
  if (exactOverride !== undefined) return exactOverride;
  let exact = exactByDevice.get(dev);
  if (exact === undefined) {
    try {
      exact = hasMultigrainKernel() && MULTIGRAIN_FS_TYPES.has(fs.statfsSync(path).type);
    } catch {
      exact = false;
    }
    exactByDevice.set(dev, exact);
  }
  return exact;
}

/**
 * True when `version`, read at `readAtMs` (Date.now()), proves that any
 * later change will produce a different version: always on file systems
 * with exact change times; elsewhere only once the file's last change is
 * older than RACY_WINDOW_MS at the time of the read.
 */
export function isProvable(version: FileVersion, readAtMs: number, exactChangeTimes: boolean): boolean {
  if (exactChangeTimes) return true;
  return readAtMs - Number(version.ctimeNs / 1_000_000n) > RACY_WINDOW_MS;
}

/** Tests: pretend change times are exact (true) or coarse (false) everywhere; undefined restores the probe. */
export function setExactChangeTimesForTesting(value: boolean | undefined): void {
  exactOverride = value;
}
