/**
 * The open-file limit of a long-running command (`serve`, `proxy`).
 *
 * Every transfer in flight holds two fds, the socket and the dup() that
 * keeps bytes off a recycled fd (DESIGN.md), and a relay ten (two sockets,
 * a dup of each for each direction's job, two pipes). Under the common default soft limit of 1,024, a server
 * runs out at about 500 concurrent large responses: libuv then closes the
 * connections it cannot accept, and a response whose dup fails goes out by
 * copy (write-body.ts, 'fd-exhausted'). So, like Go's runtime (which does
 * this for every program since Go 1.19) and nginx's worker_rlimit_nofile,
 * these commands raise the soft limit to the hard one at startup, before
 * any worker is forked (workers inherit it). Only the commands do: a
 * library must not change its host process's limits.
 */
import { getNative } from '../native/capabilities.js';

/** Below this soft limit a startup line warns (the threshold `zerocopy doctor` uses). */
export const LOW_FILE_LIMIT = 4096;

export interface FileLimit {
  /** The soft limit found at startup. */
  before: number;
  /** The soft limit now. */
  soft: number;
  hard: number;
}

/**
 * Raises RLIMIT_NOFILE's soft limit to its hard limit. Undefined without
 * the addon (nothing to raise it with) or when the limits cannot be read.
 */
export function raiseFileLimit(): FileLimit | undefined {
  const native = getNative();
  if (native === null) return undefined;
  const found = native.fileLimit(-1);
  if (typeof found === 'number') return undefined;
  const [before, hard] = found;
  // -1 is RLIM_INFINITY: nothing to raise to (and Linux never allows it for NOFILE).
  if (before === -1 || hard === -1 || before >= hard) return { before, soft: before, hard };
  const raised = native.fileLimit(hard);
  // Refused (a seccomp filter, say): keep running with what there is.
  return typeof raised === 'number' ? { before, soft: before, hard } : { before, soft: raised[0], hard: raised[1] };
}

/**
 * The warning for a limit still low after raising, or undefined. `fdsPerUnit`
 * and `unit` say what runs out: "responses in flight" (2 fds each) for
 * serve, "connections" (10) for proxy.
 */
export function describeLowFileLimit(limit: FileLimit | undefined, fdsPerUnit: number, unit: string): string | undefined {
  if (limit === undefined || limit.soft === -1 || limit.soft >= LOW_FILE_LIMIT) return undefined;
  return `warning: the open-file limit is ${limit.soft} (hard limit ${limit.hard}); at ${fdsPerUnit} fds each, about ${Math.floor(limit.soft / fdsPerUnit)} ${unit} at once (raise the hard limit: ulimit -Hn as root, or LimitNOFILE= in a systemd unit)`;
}
