/**
 * Process-wide counters, cheap enough to update on every transfer. The
 * library never resets them; `metrics()` returns a snapshot.
 */
import { getNative } from '../native/capabilities.js';

export type TransferMethod = 'sendfile' | 'splice' | 'tee' | 'copy_file_range' | 'copy' | 'msg_zerocopy' | 'io_uring_send_zc';

const METHODS: TransferMethod[] = ['sendfile', 'splice', 'tee', 'copy_file_range', 'copy', 'msg_zerocopy', 'io_uring_send_zc'];

export interface MethodCounters {
  transfers: number;
  bytes: number;
  /**
   * Of `bytes`, those a splice transfer sent through its small-message
   * buffer (recv + send: messages up to 16 KiB from a socket), not spliced;
   * for msg_zerocopy and io_uring_send_zc (sendBuffers), those that were
   * copied after all: sent without zero-copy, or reported copied by the kernel.
   */
  bytesCopied: number;
  syscalls: number;
  errors: number;
}

export interface RelayCounters {
  /** Relays started (each is two directions). */
  started: number;
  active: number;
  bytes: number;
  /** Relays that copied because no pipe was left in the pool. */
  copiedForLackOfPipes: number;
}

export interface Metrics {
  methods: Record<TransferMethod, MethodCounters>;
  /** Transfers that switched to copying, by reason (errno code or cause). */
  fallbacks: Record<string, number>;
  /** Steps run on the threadpool because file pages were not in the page cache. */
  coldOffloads: number;
  /** Transfers currently running (JavaScript view). */
  inFlight: number;
  /** Native jobs currently running (the addon's view; 0 without the addon). */
  nativeJobs: number;
  relays: RelayCounters;
  pipes: {
    created: number;
    idle: number;
    live: number;
    destroyedWithData: number;
    /** Pipes the kernel did not grow to the size asked for (F_SETPIPE_SZ refused). */
    resizeRefused: number;
    /** Capacity in bytes of the last pipe created, and of the smallest (0 before the first). */
    lastCapacity: number;
    smallestCapacity: number;
  };
}

const methods = Object.fromEntries(
  METHODS.map((m) => [m, { transfers: 0, bytes: 0, bytesCopied: 0, syscalls: 0, errors: 0 }]),
) as Record<TransferMethod, MethodCounters>;
const fallbacks: Record<string, number> = {};
const relays: RelayCounters = { started: 0, active: 0, bytes: 0, copiedForLackOfPipes: 0 };
const pipes = { created: 0, idle: 0, live: 0, destroyedWithData: 0, resizeRefused: 0, lastCapacity: 0, smallestCapacity: 0 };
let coldOffloads = 0;
let inFlight = 0;

/** Counts one finished transfer (or one failed attempt, with `failed`). */
export function recordTransfer(method: TransferMethod, bytes: number, copied: number, syscalls: number, offloads: number, failed: boolean): void {
  const m = methods[method];
  m.transfers++;
  m.bytes += bytes;
  m.bytesCopied += copied;
  m.syscalls += syscalls;
  if (failed) m.errors++;
  coldOffloads += offloads;
}

export function recordFallback(reason: string): void {
  fallbacks[reason] = (fallbacks[reason] ?? 0) + 1;
}

export function trackInFlight(delta: number): void {
  inFlight += delta;
}

export function relayCounters(): RelayCounters {
  return relays;
}

export function pipeCounters(): typeof pipes {
  return pipes;
}

/** A snapshot of every counter. */
export function metrics(): Metrics {
  return {
    methods: Object.fromEntries(METHODS.map((m) => [m, { ...methods[m] }])) as Record<TransferMethod, MethodCounters>,
    fallbacks: { ...fallbacks },
    coldOffloads,
    inFlight,
    nativeJobs: getNative()?.activeJobs() ?? 0,
    relays: { ...relays },
    pipes: { ...pipes },
  };
}
