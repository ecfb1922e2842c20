/**
 * Whether the kernel paths are available, decided once per process, and the
 * one place that classifies errnos as "unsupported" (fall back) versus
 * "failed" (report). Tests override the addon to exercise every fallback.
 */
import { loadBinding, type NativeBinding } from './binding.js';
import { errnoOf } from './errno.js';

let cached: NativeBinding | null | undefined;
let override: NativeBinding | null | undefined;

/** The addon, or null when transfers must use the JavaScript copy path. */
export function getNative(): NativeBinding | null {
  if (override !== undefined) return override;
  if (cached === undefined) cached = loadBinding();
  return cached;
}

/**
 * Replaces the addon for tests (null = behave as on a platform without it).
 * Returns a function that restores the previous state.
 */
export function setNativeForTesting(binding: NativeBinding | null | undefined): () => void {
  const previous = override;
  override = binding;
  return () => {
    override = previous;
  };
}

type ErrnoReasons = ReadonlyMap<number, string>;

const ENOSYS: [number, string] = [errnoOf('ENOSYS'), 'syscall not implemented (old kernel or a seccomp filter)'];

/**
 * Per syscall, the errnos that mean "this kernel path cannot serve these
 * fds" (fall back to copying) rather than a failure (report it). Decided per
 * call because the same errno means different things: EINVAL from sendfile
 * is a source without mmap-like reads, but from copy_file_range it can also
 * be an overlapping copy within one file, which copying would make endless,
 * so copyFileRange refuses same-file overlaps before the first call.
 */
const unsupportedBySyscall: Record<string, ErrnoReasons> = {
  sendfile: new Map([
    ENOSYS,
    // The source does not support mmap-like reads (some /proc, sysfs and FUSE
    // files), or the destination is opened O_APPEND.
    [errnoOf('EINVAL'), 'the source or destination does not support sendfile'],
  ]),
  splice: new Map([
    ENOSYS,
    // A file system without splice_read/splice_write, or an O_APPEND destination.
    [errnoOf('EINVAL'), 'the file system does not support splice'],
  ]),
  // sendBuffers: SO_ZEROCOPY, set before the first byte.
  setsockopt: new Map([
    [errnoOf('ENOPROTOOPT'), 'SO_ZEROCOPY unknown to this kernel (Linux < 4.14)'],
    // Only TCP and UDP sockets take it (a Unix socket does not).
    [errnoOf('EOPNOTSUPP'), 'this kind of socket has no MSG_ZEROCOPY'],
  ]),
  // sendBuffers with io_uring: the ring is set up by the first send.
  io_uring_setup: new Map([
    ENOSYS,
    // kernel.io_uring_disabled = 2 (or 1 outside io_uring_group), or a
    // container's seccomp profile.
    [errnoOf('EPERM'), 'io_uring is disabled (kernel.io_uring_disabled or a seccomp filter)'],
    // Before Linux 5.12 the rings counted against RLIMIT_MEMLOCK.
    [errnoOf('ENOMEM'), 'no memory for an io_uring ring (RLIMIT_MEMLOCK before Linux 5.12)'],
  ]),
  send_zc: new Map([
    // SEND_ZC or its usage report unknown to this kernel (6.0, 6.2).
    [errnoOf('EINVAL'), 'io_uring SEND_ZC (with usage reports) unknown to this kernel'],
    [errnoOf('EOPNOTSUPP'), 'this kind of socket has no io_uring SEND_ZC'],
  ]),
  copy_file_range: new Map([
    ENOSYS,
    // Across file systems before Linux 5.3, and since 5.19 unless both are
    // of the same file system type.
    [errnoOf('EXDEV'), 'cross-device copy not supported'],
    // File systems that refuse the operation outright (EOPNOTSUPP == ENOTSUP on Linux).
    [errnoOf('EOPNOTSUPP'), 'operation not supported by the file system'],
    // Special files (/proc, sysfs) and, on some kernels, file-system
    // combinations; overlapping ranges in one file never get here.
    [errnoOf('EINVAL'), 'these files cannot be copied in the kernel'],
  ]),
};

/**
 * True when `errno` from `syscall` means "this kernel path cannot serve these
 * fds" rather than a failure. Callers may fall back only when no body byte
 * has moved yet.
 */
export function isUnsupportedErrno(syscall: string, errno: number): boolean {
  return unsupportedBySyscall[syscall]?.has(errno) ?? false;
}

/** Why `errno` from `syscall` counts as unsupported, for metrics and diagnostics. */
export function describeUnsupported(syscall: string, errno: number): string | undefined {
  return unsupportedBySyscall[syscall]?.get(errno);
}
