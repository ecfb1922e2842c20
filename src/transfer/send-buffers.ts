/**
 * sendBuffers: bytes that start in user memory (a generated response, a
 * batch a broker holds) to a socket, with zero-copy where it pays:
 * MSG_ZEROCOPY, or io_uring SEND_ZC, or a plain copying send.
 *
 *   sendmsg(MSG_ZEROCOPY)  →  pages pinned, queued as they are
 *   ... the NIC sends them (DMA), the peer acknowledges ...
 *   error queue: "calls lo..hi done (copied: yes/no)"  →  the memory may change
 *
 * The promise settles only after that last step, for every byte handed over
 * with zero-copy: from then on the caller may reuse or change the memory.
 */
import net from 'node:net';

import { createAbortError, createError } from '../errors.js';
import { fallbackChannel, transferEndChannel } from '../diagnostics.js';
import type { NativeBinding } from '../native/binding.js';
import { describeUnsupported, getNative, isUnsupportedErrno } from '../native/capabilities.js';
import { ioUringSendZcSupport } from '../native/probes.js';
import { nativeUnavailableReason } from '../native/status.js';
import { prepareTarget, socketGoneError, type Target } from './endpoint.js';
import { TransferGuard, type GuardOptions } from './guard.js';
import { recordFallback, recordTransfer, trackInFlight } from './metrics.js';
import { startNativeSendJob, type JobOutcome } from './native-job.js';
import { checkMethod, checkOptionsObject, checkSignal } from './options.js';
import { errorFromOutcome } from './run.js';

/**
 * 'auto' sends a buffer with zero-copy only when it has at least this many
 * bytes. Zero-copy replaces the per-byte copy with per-page pinning and a
 * completion per call, which the kernel's msg_zerocopy.rst puts at break-even
 * around 10 KB per write; 16 KiB (four pages) is the first power of two past
 * it, and the relay's copy/splice boundary (SMALL_MESSAGE_BYTES) too.
 * Measured (`npm run bench:send`, device path: UDP to an offloading tap,
 * sender CPU per GB, medians of 3, 2026-12-03): MSG_ZEROCOPY against send()
 * 4 KiB 0.736 vs 0.629 (loses), 8 KiB 0.377 vs 0.403 (wins), 16 KiB 0.182
 * vs 0.171 (loses), 32 KiB 0.0978 vs 0.0994 (even), 64 KiB 0.0573 vs 0.0733
 * (22% less). The crossover is a noisy band from 8 to 32 KiB; 16 KiB sits in
 * it, so below it zero-copy never clearly pays and from 64 KiB it always does.
 */
export const DEFAULT_MIN_ZEROCOPY_BYTES = 16 << 10;

/**
 * After a cancel (abort, timeout, socket closed) the job still waits for the
 * kernel to let go of the pages it pinned, which happens when the peer
 * acknowledges them. A peer that never does would hold the caller's memory
 * for ever: past this grace the connection is reset (connect(AF_UNSPEC)),
 * which drops the queued bytes and gives the pages back. A second on
 * loopback is a thousand round trips; on the internet a few.
 */
export const COMPLETION_GRACE_MS = 2000;

export type SendBuffersData = ArrayBufferView | readonly ArrayBufferView[];

export interface SendBuffersOptions {
  /**
   * 'auto' (default): zero-copy for buffers of at least `minBytes`;
   * 'always': for every buffer; 'never': copy everything.
   */
  zerocopy?: 'auto' | 'always' | 'never';
  /** 'auto's threshold in bytes (default DEFAULT_MIN_ZEROCOPY_BYTES). */
  minBytes?: number;
  /**
   * Which kernel interface: 'auto' (default: MSG_ZEROCOPY, then io_uring
   * SEND_ZC when the socket refuses SO_ZEROCOPY), 'msg_zerocopy' or
   * 'io_uring'. An unavailable one falls back to copying, with the reason.
   */
  backend?: 'auto' | 'msg_zerocopy' | 'io_uring';
  signal?: AbortSignal;
  /** Reject with ZC_ERR_IDLE_TIMEOUT when no byte moves and no completion arrives for this long (0/omitted: never). */
  timeoutMs?: number;
}

export type SendBuffersMethod = 'msg_zerocopy' | 'io_uring_send_zc' | 'copy';

/** The kernel's own report on the zero-copy sends. */
export interface ZerocopyReport {
  /** Zero-copy send calls (MSG_ZEROCOPY) or requests (SEND_ZC) that took bytes. */
  sends: number;
  /** Completions received for them: equal to `sends` once resolved. */
  completions: number;
  /** Bytes whose completion said the kernel copied them after all (SO_EE_CODE_ZEROCOPY_COPIED, IORING_NOTIF_USAGE_ZC_COPIED). */
  copiedBytes: number;
  /** Bytes handed over with zero-copy (the rest of `bytes` was copied by the send call). */
  bytes: number;
  /** Times the kernel answered ENOBUFS (optmem_max or RLIMIT_MEMLOCK exhausted). */
  enobufs: number;
}

export interface SendBuffersResult {
  /** Bytes handed to the kernel: all of them. */
  bytes: number;
  method: SendBuffersMethod;
  zerocopy: ZerocopyReport;
  /** Why 'copy', or why some bytes were copied after an ENOBUFS. */
  reason?: string;
}

interface SocketState {
  /** The socket's next MSG_ZEROCOPY id: the kernel numbers its successful zero-copy calls from 0. */
  nextId: number;
  busy: boolean;
}

const socketStates = new WeakMap<net.Socket, SocketState>();

function stateOf(socket: net.Socket): SocketState {
  let state = socketStates.get(socket);
  if (state === undefined) {
    state = { nextId: 0, busy: false };
    socketStates.set(socket, state);
  }
  return state;
}

const NO_ZEROCOPY: ZerocopyReport = { sends: 0, completions: 0, copiedBytes: 0, bytes: 0, enobufs: 0 };

function toViews(data: unknown): Uint8Array[] {
  const list = Array.isArray(data) ? (data as unknown[]) : [data];
  const views: Uint8Array[] = [];
  list.forEach((item, index) => {
    if (!ArrayBuffer.isView(item)) {
      const name = Array.isArray(data) ? `data[${index}]` : 'data';
      throw createError('ZC_ERR_INVALID_ARG', [name, 'a Buffer, TypedArray or DataView', item]);
    }
    if (item.byteLength === 0) return;
    views.push(item instanceof Uint8Array ? item : new Uint8Array(item.buffer, item.byteOffset, item.byteLength));
  });
  return views;
}

function checkTimeout(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw createError('ZC_ERR_INVALID_ARG', ['options.timeoutMs', 'a non-negative integer', value]);
  if (value < 0 || value > 0x7fffffff) throw createError('ZC_ERR_OUT_OF_RANGE', ['options.timeoutMs', '>= 0 and <= 2147483647', value]);
  return value === 0 ? undefined : value;
}

function checkMinBytes(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_MIN_ZEROCOPY_BYTES;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw createError('ZC_ERR_INVALID_ARG', ['options.minBytes', 'a non-negative integer', value]);
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) throw createError('ZC_ERR_OUT_OF_RANGE', ['options.minBytes', `>= 0 and <= ${Number.MAX_SAFE_INTEGER}`, value]);
  return value;
}

interface Attempt {
  method: SendBuffersMethod;
  mode: number;
  flags: number;
  zerocopy: Uint8Array;
}

/** Which buffers go with zero-copy: a policy decision, one flag per buffer. */
function zerocopyFlags(views: Uint8Array[], policy: 'auto' | 'always' | 'never', minBytes: number): Uint8Array {
  return Uint8Array.from(views, (v) => (policy === 'always' || (policy === 'auto' && v.byteLength >= minBytes) ? 1 : 0));
}

/**
 * Candidate kernel interfaces, best first. MSG_ZEROCOPY leads 'auto': on a
 * socket both take the same pinned-page path, but MSG_ZEROCOPY needs no ring
 * and one event-loop wakeup per send window where SEND_ZC, one request in
 * flight at a time to keep the bytes in order, needs one per request.
 * Measured through this library (bench:send, loopback, sender CPU-s/GB,
 * medians of 3): 16 KiB 4.07 vs 4.06, 64 KiB 1.36 vs 1.39, 1 MiB 0.543 vs
 * 0.515 — even, so the one without a ring leads. (The device path's SEND_ZC
 * lead comes from 32 requests per io_uring_enter, which ordered sends on one
 * socket cannot use here.)
 */
function candidates(native: NativeBinding, backend: 'auto' | 'msg_zerocopy' | 'io_uring', zerocopy: Uint8Array, skipped: string[]): Attempt[] {
  const c = native.constants;
  const list: Attempt[] = [];
  if (backend !== 'io_uring') list.push({ method: 'msg_zerocopy', mode: c.MODE_SEND, flags: c.ENABLE_ZEROCOPY, zerocopy });
  if (backend !== 'msg_zerocopy') {
    const support = ioUringSendZcSupport(native);
    if (support.ok) list.push({ method: 'io_uring_send_zc', mode: c.MODE_URING_SEND, flags: 0, zerocopy });
    else skipped.push(support.reason!);
  }
  return list;
}

function copyAttempt(native: NativeBinding, count: number): Attempt {
  return { method: 'copy', mode: native.constants.MODE_SEND, flags: 0, zerocopy: new Uint8Array(count) };
}

/** Runs one send job under a guard; a cancel resets the connection if the kernel keeps the pages past the grace. */
async function runAttempt(
  native: NativeBinding,
  socket: net.Socket,
  views: Uint8Array[],
  attempt: Attempt,
  guard: Omit<GuardOptions, 'progress' | 'cancel'>,
): Promise<{ outcome: JobOutcome; cause: TransferGuard }> {
  const state = stateOf(socket);
  const job = startNativeSendJob(native, {
    mode: attempt.mode,
    socket,
    buffers: views,
    zerocopy: attempt.zerocopy,
    flags: attempt.flags,
    nextZerocopyId: state.nextId,
  });
  let resetTimer: NodeJS.Timeout | undefined;
  const watch = new TransferGuard({
    ...guard,
    progress: job.progress,
    cancel: () => {
      job.cancel();
      resetTimer = setTimeout(() => job.resetConnection(), COMPLETION_GRACE_MS);
    },
  });
  try {
    const outcome = await job.done;
    if (attempt.mode === native.constants.MODE_SEND) state.nextId = outcome.zerocopy.nextId;
    return { outcome, cause: watch };
  } finally {
    clearTimeout(resetTimer);
    watch.dispose();
  }
}

function reportOf(outcome: JobOutcome): ZerocopyReport {
  const z = outcome.zerocopy;
  return { sends: z.sends, completions: z.completions, copiedBytes: z.copiedBytes, bytes: z.bytes, enobufs: z.enobufs };
}

function publish(method: SendBuffersMethod, bytes: number, zerocopy: ZerocopyReport, syscalls: number, outFd: number, error: Error | undefined): void {
  // Copied after all: sent without zero-copy, or reported copied by the kernel.
  const copied = bytes - (zerocopy.bytes - zerocopy.copiedBytes);
  recordTransfer(method, bytes, method === 'copy' ? 0 : copied, syscalls, 0, error !== undefined);
  if (transferEndChannel.hasSubscribers) {
    transferEndChannel.publish({
      method,
      bytes,
      ...(method !== 'copy' && copied > 0 ? { copiedBytes: copied } : {}),
      outFd,
      inFd: -1,
      syscalls,
      offloads: 0,
      zerocopy: { sends: zerocopy.sends, completions: zerocopy.completions, bytes: zerocopy.bytes, copiedBytes: zerocopy.copiedBytes, enobufs: zerocopy.enobufs },
      ...(error ? { error } : {}),
    });
  }
}

/**
 * The path without the kernel job (no addon, a TLS socket): socket.write of
 * each buffer; settles once Node has handed the last one to the kernel.
 */
async function sendThroughNode(target: Target, views: Uint8Array[], signal: AbortSignal | undefined, timeoutMs: number | undefined, reason: string): Promise<SendBuffersResult> {
  const socket = target.socket!;
  const CANCELED = new Error('canceled');
  let bytes = 0;
  let canceled = false;
  let rejectWrite: ((error: Error) => void) | undefined;
  const guard = new TransferGuard({
    signal,
    sockets: [socket],
    idleTimeoutMs: timeoutMs,
    progress: () => bytes,
    cancel: () => {
      canceled = true;
      rejectWrite?.(CANCELED);
    },
  });
  const fields = () => ({ bytesWritten: bytes, method: 'copy' });
  try {
    for (const view of views) {
      if (canceled) throw CANCELED;
      await new Promise<void>((resolve, reject) => {
        rejectWrite = reject;
        socket.write(view, (error) => (error ? reject(Object.assign(error, fields())) : resolve()));
      });
      // Node calls a write's callback without an error when the socket was
      // destroyed meanwhile (a reset read first): the bytes may not have gone.
      if (socket.destroyed) throw socketGoneError(socket, fields());
      bytes += view.byteLength;
    }
    if (canceled) throw CANCELED;
    publish('copy', bytes, NO_ZEROCOPY, 0, target.fd, undefined);
    return { bytes, method: 'copy', zerocopy: { ...NO_ZEROCOPY }, reason };
  } catch (caught) {
    let error = caught as Error;
    if (error === CANCELED) {
      if (guard.reason === 'socket-closed') error = socketGoneError(socket, fields());
      else if (guard.reason === 'idle-timeout') error = createError('ZC_ERR_IDLE_TIMEOUT', [timeoutMs ?? 0], fields());
      else error = createAbortError(signal, fields());
    }
    publish('copy', bytes, NO_ZEROCOPY, 0, target.fd, error);
    throw error;
  } finally {
    guard.dispose();
  }
}

/**
 * Sends `data` (one ArrayBufferView, or an array sent in order as one
 * stream) to a connected `socket`, with zero-copy for the buffers the
 * `zerocopy` policy picks, and resolves once every byte was handed to the
 * kernel AND the kernel reported every zero-copy send complete: only then
 * may the caller change or reuse the memory. Until then the library holds
 * references to the buffers (the GC cannot free them), and changing them
 * changes what is sent.
 *
 * Like sendFile: bytes Node had queued on the socket go first, the socket is
 * dup()ed for the transfer, and nothing else may write to it meanwhile (a
 * second sendBuffers on the same socket rejects with ZC_ERR_SOCKET_UNUSABLE).
 * A reset peer rejects with ECONNRESET/EPIPE (errno, syscall); an abort,
 * timeout or closed socket rejects too, but only once the kernel has given
 * the pages back (after COMPLETION_GRACE_MS it resets the connection to make
 * it). Errors carry `bytesWritten` and `method`.
 */
export async function sendBuffers(socket: net.Socket, data: SendBuffersData, options?: SendBuffersOptions): Promise<SendBuffersResult> {
  if (!(socket instanceof net.Socket)) throw createError('ZC_ERR_INVALID_ARG', ['socket', 'a net.Socket', socket]);
  const views = toViews(data);
  const opts = checkOptionsObject<SendBuffersOptions>(options);
  const policy = checkMethod(opts.zerocopy, ['auto', 'always', 'never'] as const, 'options.zerocopy') ?? 'auto';
  const minBytes = checkMinBytes(opts.minBytes);
  const backend = checkMethod(opts.backend, ['auto', 'msg_zerocopy', 'io_uring'] as const, 'options.backend') ?? 'auto';
  const signal = checkSignal(opts.signal);
  const timeoutMs = checkTimeout(opts.timeoutMs);
  if (signal?.aborted) throw createAbortError(signal, { bytesWritten: 0 });

  const state = stateOf(socket);
  if (state.busy) throw createError('ZC_ERR_SOCKET_UNUSABLE', ['another sendBuffers is still sending on it']);
  state.busy = true;
  trackInFlight(1);
  try {
    const target = await prepareTarget(socket, 'socket', signal);
    const native = getNative();
    if (native === null) return await sendThroughNode(target, views, signal, timeoutMs, `the native addon is not loaded (${nativeUnavailableReason()})`);
    if (target.kind === 'tls') return await sendThroughNode(target, views, signal, timeoutMs, 'the socket is not a kernel TCP socket (TLS encrypts in user space)');
    return await sendNative(native, socket, target, views, { policy, minBytes, backend, signal, timeoutMs });
  } finally {
    trackInFlight(-1);
    state.busy = false;
  }
}

async function sendNative(
  native: NativeBinding,
  socket: net.Socket,
  target: Target,
  views: Uint8Array[],
  o: { policy: 'auto' | 'always' | 'never'; minBytes: number; backend: 'auto' | 'msg_zerocopy' | 'io_uring'; signal: AbortSignal | undefined; timeoutMs: number | undefined },
): Promise<SendBuffersResult> {
  const zerocopy = zerocopyFlags(views, o.policy, o.minBytes);
  const reasons: string[] = [];
  let attempts: Attempt[];
  if (views.length === 0) {
    reasons.push('no bytes to send');
    attempts = [];
  } else if (!zerocopy.includes(1)) {
    reasons.push(o.policy === 'never' ? "zerocopy: 'never'" : `every buffer is below minBytes (${o.minBytes})`);
    attempts = [];
  } else {
    attempts = candidates(native, o.backend, zerocopy, reasons);
  }
  attempts.push(copyAttempt(native, views.length));
  const guard = { signal: o.signal, sockets: [socket], idleTimeoutMs: o.timeoutMs };
  for (const attempt of attempts) {
    const { outcome, cause } = await runAttempt(native, socket, views, attempt, guard);
    const unsupported = outcome.status < 0 && outcome.moved === 0 && attempt.method !== 'copy' && isUnsupportedErrno(outcome.failedSyscall, outcome.status);
    if (unsupported) {
      const why = describeUnsupported(outcome.failedSyscall, outcome.status) ?? 'unsupported';
      reasons.push(`${attempt.method}: ${why}`);
      recordFallback(`${attempt.method}:${outcome.failedSyscall}:${why}`);
      if (fallbackChannel.hasSubscribers) fallbackChannel.publish({ from: attempt.method, to: 'next', errno: outcome.status, reason: why });
      continue;
    }
    const report = reportOf(outcome);
    const error = errorFromOutcome(outcome, cause, {
      method: attempt.method,
      length: undefined,
      sourceKind: 'other',
      outFd: target.fd,
      signal: o.signal,
      idleTimeoutMs: o.timeoutMs,
    });
    publish(attempt.method, outcome.moved, report, outcome.syscalls, target.fd, error);
    if (error) throw error;
    const copiedForEnobufs = outcome.zerocopy.enobufsCopiedBytes;
    if (copiedForEnobufs > 0) reasons.push(`ENOBUFS with no completion to wait for: ${copiedForEnobufs} bytes copied (optmem_max or RLIMIT_MEMLOCK)`);
    const reason = attempt.method === 'copy' || copiedForEnobufs > 0 ? reasons.join('; ') : undefined;
    return { bytes: outcome.moved, method: attempt.method, zerocopy: report, ...(reason ? { reason } : {}) };
  }
  // The copy attempt is last and never "unsupported": unreachable.
  throw createError('ZC_ERR_UNSUPPORTED', ['sendBuffers']);
}
