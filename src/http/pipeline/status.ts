/**
 * From a failed file-system call to an HTTP status, in one function
 * (STYLE.md, Errors 6; Go's toHTTPError), and the fixed reason texts that
 * response bodies use. Bodies never carry `err.message`: it would leak paths
 * and system details to the client.
 */
import { STATUS_CODES } from 'node:http';

/** Options of `mapErrorToStatus`. */
export interface ErrorStatusOptions {
  /**
   * Whether the server follows symlinks out of the root (`followSymlinks`).
   * When false (the default), ELOOP and EXDEV are the jail refusing a
   * symlink, hence 403; when true they are real failures, hence 500.
   */
  followSymlinks?: boolean;
}

/**
 * Maps an error from opening or stat-ing a file to the status to answer:
 *  - ENOENT, ENOTDIR, ENAMETOOLONG → 404: the path names nothing we serve;
 *  - ENXIO → 404: open() of a Unix socket in the root, not a file we serve;
 *  - EACCES, EPERM → 403: it exists but we may not read it;
 *  - ELOOP, EXDEV → 403 while symlinks are refused (openat2 RESOLVE_BENEATH
 *    answers EXDEV for a path that would leave the root, and O_NOFOLLOW
 *    style refusals answer ELOOP); 500 when symlinks are followed;
 *  - anything else, including EISDIR (the caller handles directories before
 *    this point, so reaching here with it is a bug) and values without a
 *    `code` → 500.
 */
export function mapErrorToStatus(error: unknown, options: ErrorStatusOptions = {}): 403 | 404 | 500 {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'ENXIO':
      return 404;
    case 'EACCES':
    case 'EPERM':
      return 403;
    case 'ELOOP':
    case 'EXDEV':
      return options.followSymlinks ? 500 : 403;
    default:
      return 500;
  }
}

/**
 * The fixed reason text for a status, from Node's table (`404` → `Not
 * Found`); `Error` for codes the table lacks. This, and never an error
 * message, is what a generated page says.
 */
export function describeStatus(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}
