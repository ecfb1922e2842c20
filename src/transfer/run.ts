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
import type { FdKind, Target } from './endpoint.js';
import { TransferGuard, type CancelReason, type GuardOptions } from './guard.js';
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

/** Runs one job to its end under a guard; never throws for transfer outcomes. */
export async function runGuardedJob(
  native: NativeBinding,
  spec: NativeJobSpec,
  guardSettings: GuardSettings,
): Promise<{ outcome: JobOutcome; reason: CancelReason | undefined }> {
  const job = startNativeJob(native, spec);
  const guard = new TransferGuard({ ...guardSettings, progress: job.progress, cancel: job.cancel });
  try {
    const outcome = await job.done;
    return { outcome, reason: guard.reason };
  } finally {
    guard.dispose();
  }
}

/** Native flags describing the two ends. */
export function endpointFlags(native: NativeBinding, sourceKind: FdKind, targetKind: Target['kind']): number {
  const c = native.constants;
  let flags = 0;
  if (sourceKind === 'file') flags |= c.SRC_REGULAR;
  if (sourceKind === 'pipe') flags |= c.SRC_PIPE;
  if (targetKind === 'socket') flags |= c.DST_SOCKET;
  if (targetKind === 'pipe') flags |= c.DST_PIPE;
  if (targetKind === 'file') flags |= c.DST_REGULAR;
  return flags;
}

export interface OutcomeContext {
  method: TransferMethod;
  /** The length the caller asked for, if any: an EOF before it is an error. */
  length: number | undefined;
  sourceKind: FdKind;
  outFd: number;
  signal: AbortSignal | undefined;
  idleTimeoutMs?: number | undefined;
}

/** The error an outcome stands for, or undefined when it succeeded. */
export function errorFromOutcome(outcome: JobOutcome, reason: CancelReason | undefined, context: OutcomeContext): Error | undefined {
  const c = { bytesWritten: outcome.moved, method: context.method };
  if (outcome.status === 0) return undefined;
  if (outcome.status === 1) {
    if (context.length === undefined) return undefined;
    const code = context.sourceKind === 'file' ? 'ZC_ERR_FILE_TRUNCATED' : 'ZC_ERR_UNEXPECTED_EOF';
    return createError(code, [outcome.moved, context.length], c);
  }
  if (outcome.status === 2) {
    if (reason === 'socket-closed') return createError('ZC_ERR_SOCKET_CLOSED', [], c);
    if (reason === 'idle-timeout') return createError('ZC_ERR_IDLE_TIMEOUT', [context.idleTimeoutMs ?? 0], c);
    return createAbortError(context.signal, c);
  }
  return createSystemError(outcome.status, outcome.failedSyscall || context.method, { fd: context.outFd, ...c });
}

/** Counts and publishes the end of a transfer. */
export function reportTransfer(
  method: TransferMethod,
  outcome: Pick<JobOutcome, 'moved' | 'syscalls' | 'offloads'>,
  outFd: number,
  inFd: number,
  error: Error | undefined,
): void {
  recordTransfer(method, outcome.moved, outcome.syscalls, outcome.offloads, error !== undefined);
  if (transferEndChannel.hasSubscribers) {
    transferEndChannel.publish({
      method,
      bytes: outcome.moved,
      outFd,
      inFd,
      syscalls: outcome.syscalls,
      offloads: outcome.offloads,
      ...(error ? { error } : {}),
    });
  }
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
 * byte (EINVAL, ENOSYS, EXDEV, EOPNOTSUPP), runs it again as a copy. Throws
 * the transfer's error; resolves with bytes and the method that ran.
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
  let { outcome, reason } = started;
  if (spec.pipe && transfer.pool) transfer.pool.release(spec.pipe, outcome.inPipe);
  if (outcome.status < 0 && isUnsupportedErrno(outcome.status) && outcome.moved === 0 && outcome.headSent === 0 &&
      method !== 'copy') {
    const why = describeUnsupported(outcome.status) ?? 'unsupported';
    recordFallback(`${method}:${outcome.failedSyscall}:${why}`);
    if (fallbackChannel.hasSubscribers) fallbackChannel.publish({ from: method, to: 'copy', errno: outcome.status, reason: why });
    spec = asCopySpec(native, spec);
    method = 'copy';
    ({ outcome, reason } = await runGuardedJob(native, spec, transfer.guard));
  }
  const error = errorFromOutcome(outcome, reason, { ...transfer.context, method });
  reportTransfer(method, outcome, transfer.context.outFd, spec.srcFd, error);
  if (error) throw error;
  return { bytes: outcome.moved, method };
}
