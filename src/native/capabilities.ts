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

const unsupported = new Map<number, string>([
  // The kernel lacks the syscall (copy_file_range before 4.5, seccomp filters).
  [errnoOf('ENOSYS'), 'syscall not implemented'],
  // The fd types do not support this path: sendfile from a file without
  // mmap-like reads (some /proc and FUSE files), splice from a file system
  // without splice_read, copy_file_range on special files.
  [errnoOf('EINVAL'), 'fd type not supported'],
  // copy_file_range across file systems before Linux 5.3, and again since 5.19
  // unless both are on the same file system type.
  [errnoOf('EXDEV'), 'cross-device copy not supported'],
  // Filesystems that refuse the operation outright (EOPNOTSUPP == ENOTSUP on Linux).
  [errnoOf('EOPNOTSUPP'), 'operation not supported by the file system'],
]);

/**
 * True when `errno` means "this kernel path cannot serve these fds" rather
 * than a failure. Callers may fall back only when no byte has moved yet.
 */
export function isUnsupportedErrno(errno: number): boolean {
  return unsupported.has(errno);
}

/** Why `errno` counts as unsupported, for metrics and diagnostics. */
export function describeUnsupported(errno: number): string | undefined {
  return unsupported.get(errno);
}
