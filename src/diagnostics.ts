/**
 * diagnostics_channel names. Subscribers see every transfer as it ends, with
 * the fds and the path taken; tests use them to prove the zero-copy path ran.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** Published when a transfer ends, successfully or not: a `TransferEndMessage`. */
export const TRANSFER_END_CHANNEL = 'zerocopy:transfer:end';
/** Published when a transfer falls back to copying: a `FallbackMessage`. */
export const FALLBACK_CHANNEL = 'zerocopy:transfer:fallback';

export interface TransferEndMessage {
  method: string;
  bytes: number;
  /** Of `bytes`, those a splice sent through its small-message buffer (see metrics()). */
  copiedBytes?: number;
  /** fd the caller passed (or the socket's) for the destination, before dup(). */
  outFd: number;
  /** fd of the source, before dup(). */
  inFd: number;
  syscalls: number;
  /** Steps moved to the threadpool because file pages were not cached. */
  offloads: number;
  /** sendBuffers: what its zero-copy sends came to (see SendBuffersResult.zerocopy). */
  zerocopy?: { sends: number; completions: number; bytes: number; copiedBytes: number; enobufs: number };
  error?: Error;
}

export interface FallbackMessage {
  from: string;
  to: string;
  errno?: number;
  reason: string;
}

export const transferEndChannel = diagnosticsChannel.channel(TRANSFER_END_CHANNEL);
export const fallbackChannel = diagnosticsChannel.channel(FALLBACK_CHANNEL);
