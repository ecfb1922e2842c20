/**
 * The only module that loads the native addon. Everything else goes through
 * `capabilities.ts`, which decides whether the addon may be used.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Opaque handle of a running native transfer job. */
export type NativeJobHandle = { readonly __nativeJob: unique symbol };

/**
 * Slots of the Float64Array a job is started from (inputs) and writes its
 * results into (outputs), in native/binding.c's order.
 */
export const enum JobSlot {
  Mode = 0,
  SrcFd,
  DstFd,
  PipeRd,
  PipeWr,
  PipeCapacity,
  SrcOffset,
  Length,
  Budget,
  CopyBuffer,
  Flags,
  CacheWindow,
  CacheProbeStride,
  Moved,
  Copied,
  Syscalls,
  Status,
  FailedSyscall,
  FailedSide,
  InPipe,
  HeadSent,
  Offloads,
  Waits,
  Wakeups,
  /** Send jobs: in, the socket's next MSG_ZEROCOPY id; out, the next one after the job. */
  ZcNextId,
  ZcSends,
  ZcCompletions,
  ZcBytes,
  ZcCopiedBytes,
  ZcEnobufs,
  ZcEnobufsCopied,
}

export interface NativeConstants {
  MODE_SENDFILE: number;
  MODE_SPLICE: number;
  MODE_TEE: number;
  MODE_COPY: number;
  SRC_REGULAR: number;
  DST_SOCKET: number;
  DST_REGULAR: number;
  HEAD_MORE: number;
  SMALL_COPY: number;
  MODE_SEND: number;
  MODE_URING_SEND: number;
  ENABLE_ZEROCOPY: number;
  SOCK_STREAM: number;
  SOCK_DGRAM: number;
  STATUS_OK: number;
  STATUS_EOF: number;
  STATUS_CANCELED: number;
  JOB_SLOTS: number;
  SIDE_SRC: number;
  SIDE_DST: number;
  O_RDONLY: number;
  O_NONBLOCK: number;
  O_DIRECTORY: number;
  O_PATH: number;
  RESOLVE_NO_MAGICLINKS: number;
  RESOLVE_BENEATH: number;
  S_IFMT: number;
  S_IFREG: number;
  S_IFBLK: number;
  S_IFIFO: number;
  S_IFSOCK: number;
  POSIX_FADV_DONTNEED: number;
  POSIX_FADV_RANDOM: number;
}

/**
 * The raw addon. Numbers returned are `>= 0` on success or `-errno`; nothing
 * here throws for a failed syscall (only for arguments of the wrong type).
 */
/**
 * Synchronous single calls, for tests and tools only: they run on the
 * calling thread (a cold file blocks it) and bypass every library policy.
 */
export interface NativeTesting {
  sendfileOnce(outFd: number, inFd: number, offset: number, count: number): number;
  spliceOnce(inFd: number, offset: number, outFd: number, count: number): number;
  teeOnce(inFd: number, outFd: number, count: number): number;
  copyFileRangeOnce(fdIn: number, offIn: number, fdOut: number, offOut: number, count: number): number;
  /** A pipe the caller owns (closes with fs.closeSync). */
  pipe(sizeHint: number): [readFd: number, writeFd: number, capacity: number] | number;
  fadvise(fd: number, offset: number, length: number, advice: number): number;
  cachedBytes(fd: number, offset: number, length: number): number;
  /** vmsplice(2) of `buffer` into a pipe's write end (no SPLICE_F_GIFT): bytes or -errno. */
  vmspliceOnce(pipeWr: number, buffer: Buffer): number;
}

/**
 * Capability probes for `zerocopy doctor`: each creates what it needs, tries
 * one call and closes everything. Numbers are 0 / a value, or -errno.
 */
export interface NativeProbes {
  /** SO_ZEROCOPY on a fresh AF_INET socket of `type` (SOCK_STREAM or SOCK_DGRAM). */
  soZerocopy(type: number): number;
  /** [status, features, lastOp, sendZc, sendmsgZc, splice, sendZcUsage]: status 0 or -errno from setup/probe; sendZcUsage 0 or -errno. */
  ioUring(): [number, number, number, number, number, number, number];
  /** TCP_ULP "tls": 0 available, -ENOENT not built in. */
  ktls(): number;
  vmsplice(): number;
  /** cachestat(2) of the first page of `fd`. */
  cachestat(fd: number): number;
  /** The capacity a new pipe gets when F_SETPIPE_SZ asks for `sizeHint` bytes. */
  pipeCapacity(sizeHint: number): number;
  /** [scatterGather, txChecksum, tso, gso]: 1, 0 or -errno each (SIOCETHTOOL). */
  ethtool(ifname: string): [number, number, number, number];
}

/**
 * The raw addon. Numbers returned are `>= 0` on success or `-errno`; nothing
 * here throws for a failed syscall (only for arguments of the wrong type).
 */
export interface NativeBinding {
  /** Starts a job described by `slots` (JobSlot inputs); results are written back into it. */
  startJob(slots: Float64Array, head: Buffer | undefined): [Promise<void>, NativeJobHandle] | number;
  /**
   * Starts a send job (MODE_SEND, MODE_URING_SEND): `buffers` in order to
   * slots[DstFd], `zerocopy[i]` saying whether buffers[i] goes with
   * zero-copy. The buffers stay referenced until the promise settles, which
   * is after the kernel let go of every page it pinned.
   */
  startSendJob(slots: Float64Array, buffers: Uint8Array[], zerocopy: Uint8Array): [Promise<void>, NativeJobHandle] | number;
  /** connect(AF_UNSPEC) on the job's dup of its socket: drops what is queued, resets the peer. -EBADF once ended. */
  resetConnection(handle: NativeJobHandle): number;
  cancelJob(handle: NativeJobHandle): void;
  jobProgress(handle: NativeJobHandle): number;
  activeJobs(): number;
  /** One copy_file_range on the threadpool, on dup()s of both fds. */
  copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): Promise<number>;
  /** openat2 on the threadpool, on a dup() of `dirfd` (AT_FDCWD as is). */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): Promise<number>;
  /** A pipe owned by this environment until poolPipeClose (or the environment's end). */
  poolPipeOpen(sizeHint: number): [readFd: number, writeFd: number, capacity: number] | number;
  poolPipeClose(readFd: number, writeFd: number): number;
  /** Bytes waiting in a pipe (FIONREAD), or -errno. */
  pipeBytes(fd: number): number;
  /** A new fd (O_CLOEXEC) for the same open file, which the caller closes; or -errno. */
  dup(fd: number): number;
  setCork(fd: number, on: number): number;
  /** S_IFMT bits of the fd's mode, or -errno. */
  fileType(fd: number): number;
  /**
   * fstatat(dirfd, path) following symlinks (dirfd -100: AT_FDCWD), written
   * into `out` as [dev, ino, nlink, size, mtime s, mtime ns, ctime s, ctime ns];
   * 0 or -errno. No allocation: the per-request freshness check.
   */
  statVersionAt(dirfd: number, path: string, out: Float64Array): number;
  /** pread into all of `buffer` without waiting for the disk: bytes, or -EAGAIN when a page is not cached. */
  readCached(fd: number, buffer: Buffer, position: number): number;
  /** fstat(fd) into `out`, as statVersionAt; 0 or -errno. */
  fstatVersion(fd: number, out: Float64Array): number;
  testing: NativeTesting;
  probes: NativeProbes;
  constants: NativeConstants;
  syscallNames: string[];
}

const ADDON_PATH = '../../../native/build/Release/zerocopy.node';

/** Why the addon is not loaded, for diagnostics; undefined when it is. */
export let loadFailure: string | undefined;

/**
 * Loads the addon once. Returns null off Linux, when the build is missing, or
 * when ZEROCOPY_NATIVE=0 (forces the pure JavaScript copy path).
 */
export function loadBinding(): NativeBinding | null {
  if (process.env.ZEROCOPY_NATIVE === '0') {
    loadFailure = 'disabled by ZEROCOPY_NATIVE=0';
    return null;
  }
  if (process.platform !== 'linux') {
    loadFailure = `no native addon on ${process.platform}`;
    return null;
  }
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as NativeBinding;
  } catch (error) {
    loadFailure = buildOutcome() ?? `cannot load the native addon: ${(error as Error).message}`;
    return null;
  }
}

/**
 * Why the install left no addon, from the marker scripts/build-native.js
 * writes next to it (BUILD_FAILED: the reason; BUILD_SKIPPED: the switch).
 */
function buildOutcome(): string | undefined {
  const read = (name: string) => {
    try {
      return readFileSync(new URL(`../../../native/build/${name}`, import.meta.url), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const failed = read('BUILD_FAILED');
  if (failed !== undefined) return `the native build failed: ${failed}`;
  const skipped = read('BUILD_SKIPPED');
  return skipped !== undefined ? `the native build was skipped: ${skipped}` : undefined;
}
