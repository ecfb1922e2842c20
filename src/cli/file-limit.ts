/**
 * The open-file limit of a long-running command (`serve`, `proxy`).
 *
 * Every response in flight holds three fds: its socket, and the transfer's
 * dup()s of the socket and of the file (the dups keep bytes off a recycled
 * fd, DESIGN.md); a relayed connection holds ten (two sockets, a dup of each
 * for each direction's job, two pipes; measured: 100 more fds for 10
 * relays). Node already raises the soft limit to the hard one at startup
 * (node.cc, PlatformInit), so what is left to do is to say so when the hard
 * limit itself is low: past it, libuv closes the connections it cannot
 * accept, and a response whose dup fails goes out by copy (write-body.ts,
 * 'fd-exhausted').
 */
import { readLimit } from '../capabilities/host.js';

/** Below this soft limit a startup line warns (the threshold `zerocopy doctor` uses). */
export const LOW_FILE_LIMIT = 4096;

export interface FileLimit {
  soft: number;
  /** null: unlimited. */
  hard: number | null;
}

/** RLIMIT_NOFILE of this process, or undefined when /proc does not say. */
export function currentFileLimit(): FileLimit | undefined {
  const limit = readLimit('Max open files');
  if (limit === undefined || limit.soft === null) return undefined;
  return { soft: limit.soft, hard: limit.hard };
}

/**
 * The warning for a low limit, or undefined. `fdsPerUnit` and `unit` say
 * what runs out: "responses in flight" (3 fds each) for serve,
 * "connections" (10) for proxy.
 */
export function describeLowFileLimit(limit: FileLimit | undefined, fdsPerUnit: number, unit: string): string | undefined {
  if (limit === undefined || limit.soft >= LOW_FILE_LIMIT) return undefined;
  return `warning: the open-file limit is ${limit.soft} (hard limit ${limit.hard ?? 'unlimited'}); at ${fdsPerUnit} fds each, about ${Math.floor(limit.soft / fdsPerUnit)} ${unit} at once (raise the hard limit: LimitNOFILE= in a systemd unit, or ulimit -Hn as root)`;
}
