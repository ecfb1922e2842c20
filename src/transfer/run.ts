/**
 * Running one kernel transfer end to end: start the native job under a
 * guard, fall back to copying when the kernel path turns out unsupported
 * before any byte moved, and turn the outcome into a result or an error.
 */
import { createAbortError, createError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import { describeUnsupported, isUnsupportedErrno } from '../native/capabilities.js';
import { createSystemError } from '../native/errno.js';
import { fallbackChannel, transferEndChannel } from '../diagnostics.js';
import { socketGoneError, type FdKind, type Target } from './endpoint.js';
import { TransferGuard, type GuardOptions } from './guard.js';
import { recordFallback, recordTransfer, type TransferMethod } from './metrics.js';
import { startNativeJob, type JobOutcome, type NativeJobSpec } from './native-job.js';
import type { PipePool } from './pipe-pool.js';

/** What every transfer resolves with. */
export interface TransferResult {
  /** Body bytes delivered to the destination. */
  bytes: number;
  /** The path that moved them. */
  method: TransferMethod;
}

export type GuardSettings = Omit<GuardOptions, 'progress' | 'cancel'>;

/** Why a job was canceled from outside, as the guard saw it. */
export type CancelCause = Pick<TransferGuard, 'reason' | 'closedSocket'>;

/** Runs one job to its end under a guard; never throws for transfer outcomes. */
export async function runGuardedJob(
  native: NativeBinding,
  spec: NativeJobSpec,
  guardSettings: GuardSettings,
): Promise<{ outcome: JobOutcome; cause: CancelCause }> {
  const job = startNativeJob(native, spec);
  const guard = new TransferGuard({ ...guardSettings, progress: job.progress, cancel: job.cancel });
  try {
    const outcome = await job.done;
    return { outcome, cause: guard };
  } finally {
    guard.dispose();
  }
}

/** Native flags describing the two ends: which can be polled, which are sockets. */
export function endpointFlags(native: NativeBinding, sourceKind: FdKind, targetKind: Target['kind']): number {
  const c = native.constants;
  let flags = 0;
  if (sourceKind === 'file') flags |= c.SRC_REGULAR;
  if (targetKind === 'socket') flags |= c.DST_SOCKET;
  if (targetKind === 'file') flags |= c.DST_REGULAR;
  return flags;
}

/**
 * The flag that sends a head with MSG_MORE, so head and body share a
 * segment: only when body bytes are known to follow. With an unknown or zero
 * length the head must leave at once, or the kernel holds it ~200 ms
 * waiting for more (issue 8).
 */
export function headFlags(native: NativeBinding, head: Buffer | undefined, length: number | undefined): number {
  return head !== undefined && head.length > 0 && length !== undefined && length > 0 ? native.constants.HEAD_MORE : 0;
}

export interface OutcomeContext {
  method: TransferMethod;
  /** The length the caller asked for, if any: an EOF before it is an error. */
  length: number | undefined;
  sourceKind: FdKind;
  outFd: number;
  /** The source fd the caller passed, named in errors about the source. */
  inFd?: number | undefined;
  signal: AbortSignal | undefined;
  idleTimeoutMs?: number | undefined;
}

/** The error an outcome stands for, or undefined when it succeeded. */
export function errorFromOutcome(outcome: JobOutcome, cause: CancelCause | undefined, context: OutcomeContext): Error | undefined {
  const reason = cause?.reason;
  const c = { bytesWritten: outcome.moved, method: context.method };
  if (outcome.status === 0) return undefined;
  if (outcome.status === 1) {
    if (context.length === undefined) return undefined;
    const code = context.sourceKind === 'file' ? 'ZC_ERR_FILE_TRUNCATED' : 'ZC_ERR_UNEXPECTED_EOF';
    return createError(code, [outcome.moved, context.length], c);
  }
  if (outcome.status === 2) {
    if (reason === 'socket-closed') return socketGoneError(cause?.closedSocket, c);
    if (reason === 'idle-timeout') return createError('ZC_ERR_IDLE_TIMEOUT', [context.idleTimeoutMs ?? 0], c);
    return createAbortError(context.signal, c);
  }
  return createSystemError(outcome.status, outcome.failedSyscall || context.method, {
    ...(outcome.failedSide === 'src' && context.inFd !== undefined ? { fd: context.inFd } : { fd: context.outFd }),
    ...c,
  });
}

/** Counts and publishes the end of a transfer. */
export function reportTransfer(
  method: TransferMethod,
  outcome: Pick<JobOutcome, 'moved' | 'syscalls' | 'offloads'> & { copied?: number },
  outFd: number,
  inFd: number,
  error: Error | undefined,
): void {
  const copied = outcome.copied ?? 0;
  recordTransfer(method, outcome.moved, copied, outcome.syscalls, outcome.offloads, error !== undefined);
  if (transferEndChannel.hasSubscribers) {
    transferEndChannel.publish({
      method,
      bytes: outcome.moved,
      ...(copied > 0 ? { copiedBytes: copied } : {}),
      outFd,
      inFd,
      syscalls: outcome.syscalls,
      offloads: outcome.offloads,
      ...(error ? { error } : {}),
    });
  }
}

/**
 * Messages this small or smaller are relayed from a socket by recv + send
 * through a buffer of this size rather than by two splices (job flag
 * SMALL_COPY; larger ones fill the buffer and are spliced from then on, as
 * HAProxy's splice-auto does with its 16 KiB buffers). Below a few KiB a
 * copy costs less than a splice's page references, and a short recv proves
 * the socket drained, which a splice cannot: the EAGAIN probe per message
 * goes away. Measured in bench/proxy.mjs --rr (bench/results/proxy-rr.md).
 */
export const SMALL_MESSAGE_BYTES = 16 << 10;

/** Job settings for a splice whose source is a socket read through an internal pipe. */
export function smallMessageSettings(native: NativeBinding): { flags: number; copyBufferSize: number } {
  return { flags: native.constants.SMALL_COPY, copyBufferSize: SMALL_MESSAGE_BYTES };
}

export interface KernelTransfer {
  spec: NativeJobSpec;
  method: TransferMethod;
  /** Set when `spec` splices through an internal pipe from this pool. */
  pool?: PipePool | undefined;
  guard: GuardSettings;
  context: Omit<OutcomeContext, 'method'>;
}

/** Switches a spec to the copy path (no pipe). */
export function asCopySpec(native: NativeBinding, spec: NativeJobSpec): NativeJobSpec {
  const { pipe: _pipe, ...rest } = spec;
  return { ...rest, mode: native.constants.MODE_COPY };
}

/**
 * Runs a kernel transfer; if the kernel refuses these fds before moving a
 * body byte (an errno that capabilities.ts classifies as "path unavailable"
 * for that syscall), continues as a copy: the part of the head not yet sent
 * goes first, then the body from where the kernel path stopped (it moved
 * nothing, so from the start). Throws the transfer's error; resolves with
 * bytes and the method that ran.
 */
export async function runWithFallback(native: NativeBinding, transfer: KernelTransfer): Promise<TransferResult> {
  let { spec, method } = transfer;
  let started;
  try {
    started = await runGuardedJob(native, spec, transfer.guard);
  } catch (error) {
    // The job never started (dup failed: EMFILE): the pipe is untouched.
    if (spec.pipe && transfer.pool) transfer.pool.release(spec.pipe, 0);
    throw error;
  }
  let { outcome, cause } = started;
  if (spec.pipe && transfer.pool) transfer.pool.release(spec.pipe, outcome.inPipe);
  if (outcome.status < 0 && outcome.moved === 0 && method !== 'copy' && isUnsupportedErrno(outcome.failedSyscall, outcome.status)) {
    const why = describeUnsupported(outcome.failedSyscall, outcome.status) ?? 'unsupported';
    recordFallback(`${method}:${outcome.failedSyscall}:${why}`);
    if (fallbackChannel.hasSubscribers) fallbackChannel.publish({ from: method, to: 'copy', errno: outcome.status, reason: why });
    const headLeft = spec.head?.subarray(outcome.headSent);
    spec = { ...asCopySpec(native, spec), head: headLeft !== undefined && headLeft.length > 0 ? headLeft : undefined };
    method = 'copy';
    const headSent = outcome.headSent;
    ({ outcome, cause } = await runGuardedJob(native, spec, transfer.guard));
    outcome = { ...outcome, headSent: outcome.headSent + headSent };
  }
  const error = errorFromOutcome(outcome, cause, { ...transfer.context, method });
  reportTransfer(method, outcome, transfer.context.outFd, spec.srcFd, error);
  if (error) throw error;
  return { bytes: outcome.moved, method };
}
