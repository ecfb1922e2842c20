/**
 * Running one kernel transfer end to end: start the native job under a
 * guard, fall back to copying when the kernel path turns out unsupported
 * before any byte moved, and turn the outcome into a result or an error.
 */
import fs from 'node:fs';

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

/**
 * An error from a job that never started (its dup() failed): no body byte
 * moved, and `headSent` head bytes had gone out before it (an earlier job of
 * the same transfer). A caller that sees both at 0 knows nothing of this
 * transfer reached the destination (write-body.ts writes it another way).
 */
function notStarted(error: unknown, headSent: number): unknown {
  if (typeof error === 'object' && error !== null) Object.assign(error, { bytesWritten: 0, headSent });
  return error;
}

/** Switches a spec to the copy path (no pipe). */
export function asCopySpec(native: NativeBinding, spec: NativeJobSpec): NativeJobSpec {
  const { pipe: _pipe, ...rest } = spec;
  return { ...rest, mode: native.constants.MODE_COPY };
}

/**
 * The bytes a failed job left in its internal pipe: they were taken from the
 * source (a socket cannot give them again), so a fallback must deliver them
 * before anything else. The pipe is non-blocking and holds them already.
 */
function takePipeContents(pipe: { readFd: number }, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let have = 0;
  while (have < bytes) {
    const n = fs.readSync(pipe.readFd, out, have, bytes - have, null);
    if (n === 0) break;
    have += n;
  }
  return out.subarray(0, have);
}

/**
 * Runs a kernel transfer; if the kernel refuses these fds before delivering a
 * body byte (an errno that capabilities.ts classifies as "path unavailable"
 * for that syscall), continues as a copy that picks up exactly where the
 * kernel path stopped: the part of the head not yet sent, then any bytes the
 * kernel path had already taken from the source into its pipe (a socket
 * cannot give them again: splice into an O_APPEND file takes them, then
 * refuses to write them), then the rest of the source. Throws the
 * transfer's error; resolves with bytes and the method that ran.
 */
export async function runWithFallback(native: NativeBinding, transfer: KernelTransfer): Promise<TransferResult> {
  let { spec, method } = transfer;
  let started;
  try {
    started = await runGuardedJob(native, spec, transfer.guard);
  } catch (error) {
    // The job never started (dup failed: EMFILE): the pipe is untouched.
    if (spec.pipe && transfer.pool) transfer.pool.release(spec.pipe, 0);
    throw notStarted(error, 0);
  }
  let { outcome, cause } = started;
  const fallsBack = outcome.status < 0 && outcome.moved === 0 && method !== 'copy' && isUnsupportedErrno(outcome.failedSyscall, outcome.status);
  let carried: Buffer = Buffer.alloc(0);
  if (fallsBack && spec.pipe && outcome.inPipe > 0) carried = takePipeContents(spec.pipe, outcome.inPipe);
  if (spec.pipe && transfer.pool) transfer.pool.release(spec.pipe, outcome.inPipe - carried.length);
  if (fallsBack) {
    const why = describeUnsupported(outcome.failedSyscall, outcome.status) ?? 'unsupported';
    recordFallback(`${method}:${outcome.failedSyscall}:${why}`);
    if (fallbackChannel.hasSubscribers) fallbackChannel.publish({ from: method, to: 'copy', errno: outcome.status, reason: why });
    const headLeft = spec.head?.subarray(outcome.headSent) ?? Buffer.alloc(0);
    const head = Buffer.concat([headLeft, carried]);
    spec = {
      ...asCopySpec(native, spec),
      head: head.length > 0 ? head : undefined,
      // The carried bytes count against the length, and were read from an explicit offset on.
      length: spec.length >= 0 ? spec.length - carried.length : -1,
      srcOffset: spec.srcOffset >= 0 ? spec.srcOffset + carried.length : -1,
    };
    method = 'copy';
    const headSent = outcome.headSent;
    try {
      ({ outcome, cause } = await runGuardedJob(native, spec, transfer.guard));
    } catch (error) {
      // The copy job could not start: the first job's head bytes are out.
      throw notStarted(error, headSent);
    }
    // Carried bytes went out as part of the copy's head; they are body bytes.
    const carriedSent = Math.max(0, Math.min(carried.length, outcome.headSent - headLeft.length));
    outcome = { ...outcome, moved: outcome.moved + carriedSent, headSent: headSent + outcome.headSent - carriedSent };
  }
  const error = errorFromOutcome(outcome, cause, { ...transfer.context, method });
  reportTransfer(method, outcome, transfer.context.outFd, spec.srcFd, error);
  if (error) throw error;
  return { bytes: outcome.moved, method };
}
