/**
 * relay: a bidirectional socket-to-socket pump in the kernel, one splice job
 * and one pipe per direction, with TCP half-close carried across.
 */
import net from 'node:net';

import { createAbortError, createError, ignoreError } from '../errors.js';
import { getNative } from '../native/capabilities.js';
import type { NativeBinding } from '../native/binding.js';
import { prepareTarget, socketFd, socketGoneError } from './endpoint.js';
import { TransferGuard } from './guard.js';
import { recordFallback, relayCounters, trackInFlight } from './metrics.js';
import { startNativeJob, type JobOutcome, type RunningJob } from './native-job.js';
import { checkByteCount, checkMethod, checkOptionsObject, checkSignal } from './options.js';
import { sharedPipePool, type Pipe, type PipePool } from './pipe-pool.js';
import { errorFromOutcome, reportTransfer, smallMessageSettings } from './run.js';
import { takeOverReading, writeThroughNode } from './takeover.js';

export interface RelayOptions {
  signal?: AbortSignal;
  /** Tear both sides down after this many ms without a byte moving either way. */
  idleTimeout?: number;
  /** 'copy' relays through a user-space buffer (for comparison and tests). */
  method?: 'auto' | 'copy';
  pipePool?: PipePool;
  /**
   * Called once, when the relay has chosen its path and before it moves a
   * byte: a caller that logs per connection learns the method (and why it
   * copies) even when the relay later rejects.
   */
  onStart?: (start: RelayStart) => void;
}

/** Why a relay copies through user space instead of splicing. */
export type RelayCopyReason =
  /** `method: 'copy'` was asked for. */
  | 'forced'
  /** The pipe pool had no pipe left (its `maxPipes` are lent out, or EMFILE). */
  | 'no-pipe'
  /** The native addon is not loaded (not Linux, ZEROCOPY_NATIVE=0, build missing). */
  | 'no-addon'
  /** A socket has no kernel fd to splice (e.g. a stream-wrapped duplex). */
  | 'no-fd';

/** The path a relay took, as reported to `onStart`. */
export interface RelayStart {
  method: 'splice' | 'copy';
  /** Set when `method` is 'copy'. */
  copyReason?: RelayCopyReason;
}

export interface RelayResult {
  /** Bytes that went from `a` to `b`, including any Node had already buffered. */
  aToB: number;
  bToA: number;
  /**
   * How the bytes moved: 'splice' when the kernel relayed them (socket →
   * pipe → socket), 'copy' when all went through user space.
   */
  method: 'splice' | 'copy';
  /**
   * Of aToB + bToA, the bytes that did pass through user space: with
   * 'splice', messages up to 16 KiB (recv + send through the relay's small
   * buffer cost less than two splices there) and bytes Node had read before
   * the relay took the sockets over; with 'copy', all of them.
   */
  bytesCopied: number;
}

/** A relay failure; `aToB`/`bToA` say what got through before it. */
export interface RelayError extends Error {
  aToB?: number;
  bToA?: number;
  direction?: 'aToB' | 'bToA';
}

const noStartHook = () => {};

function assertSocket(value: unknown, name: string): asserts value is net.Socket {
  if (!(value instanceof net.Socket)) throw createError('ZC_ERR_INVALID_ARG', [name, 'a net.Socket', value]);
  if (value.destroyed) throw socketGoneError(value);
}

/** Ends a socket's write side once Node's own queue is flushed (TCP FIN). */
function halfClose(socket: net.Socket): void {
  if (!socket.destroyed && !socket.writableEnded) socket.end();
}

function tearDown(sockets: net.Socket[], error: Error | undefined): void {
  const reset = (error as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET';
  for (const socket of sockets) {
    if (socket.destroyed) continue;
    // A reset on one side is passed on as a reset, like HAProxy's abort.
    if (reset && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  }
}

interface Direction {
  name: 'aToB' | 'bToA';
  from: net.Socket;
  to: net.Socket;
  early: number;
  pipe?: Pipe | undefined;
  job?: RunningJob;
  outcome?: JobOutcome;
}

/**
 * Relays between two connected sockets until both directions reach EOF,
 * then destroys both. It takes both over: Node stops reading them, bytes
 * Node had already read are forwarded first, then the kernel moves the rest
 * (socket → pipe → socket with splice). When one side ends its writing, the
 * other side's writing is ended (half-close); a reset or error on either
 * side tears both down. Nothing may read or write the sockets meanwhile.
 *
 * Resolves with the bytes each way; rejects with an error carrying them.
 */
export async function relay(a: net.Socket, b: net.Socket, options?: RelayOptions): Promise<RelayResult> {
  assertSocket(a, 'a');
  assertSocket(b, 'b');
  const opts = checkOptionsObject<RelayOptions>(options);
  const signal = checkSignal(opts.signal);
  const idleTimeoutMs = checkByteCount(opts.idleTimeout, 'options.idleTimeout');
  const forced = checkMethod(opts.method, ['auto', 'copy'] as const);
  const hook = opts.onStart ?? noStartHook;
  if (typeof hook !== 'function') throw createError('ZC_ERR_INVALID_ARG', ['options.onStart', 'a function', hook]);
  // A throwing hook must not leave pipes lent out or sockets open: its error
  // surfaces as an uncaught exception, as it would from an event listener.
  const onStart = (start: RelayStart) => {
    try {
      hook(start);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  };
  if (signal?.aborted) throw createAbortError(signal);

  a.on('error', ignoreError);
  b.on('error', ignoreError);
  const counters = relayCounters();
  counters.started++;
  counters.active++;
  trackInFlight(1);
  try {
    await Promise.all([prepareTarget(a, 'a', signal), prepareTarget(b, 'b', signal)]);
    const native = getNative();
    const unreachable = socketFd(a) === undefined || socketFd(b) === undefined;
    if (native === null || unreachable) {
      onStart({ method: 'copy', copyReason: native === null ? 'no-addon' : 'no-fd' });
      return await relayThroughStreams(a, b, signal, idleTimeoutMs);
    }
    return await relayInKernel(native, a, b, { signal, idleTimeoutMs, forceCopy: forced === 'copy', pool: opts.pipePool, onStart });
  } finally {
    counters.active--;
    trackInFlight(-1);
    a.off('error', ignoreError);
    b.off('error', ignoreError);
  }
}

interface KernelRelayOptions {
  signal: AbortSignal | undefined;
  idleTimeoutMs: number | undefined;
  forceCopy: boolean;
  pool: PipePool | undefined;
  onStart: (start: RelayStart) => void;
}

async function relayInKernel(native: NativeBinding, a: net.Socket, b: net.Socket, options: KernelRelayOptions): Promise<RelayResult> {
  const directions: Direction[] = [
    { name: 'aToB', from: a, to: b, early: 0 },
    { name: 'bToA', from: b, to: a, early: 0 },
  ];
  const pool = options.pool ?? sharedPipePool();
  let method: 'splice' | 'copy' = options.forceCopy ? 'copy' : 'splice';
  if (method === 'splice') {
    for (const d of directions) d.pipe = pool.acquire();
    if (directions.some((d) => d.pipe === undefined)) {
      // Both directions or neither: a relay reports one method.
      for (const d of directions) if (d.pipe) pool.release(d.pipe, 0);
      for (const d of directions) d.pipe = undefined;
      method = 'copy';
      recordFallback('relay:no-pipe-available');
      relayCounters().copiedForLackOfPipes++;
    }
  }
  options.onStart(method === 'splice' ? { method } : { method, copyReason: options.forceCopy ? 'forced' : 'no-pipe' });

  // Bytes Node read before the takeover go first, through Node.
  try {
    for (const d of directions) {
      const buffered = takeOverReading(d.from);
      for (const chunk of buffered) {
        await writeThroughNode(d.to, chunk);
        d.early += chunk.length;
      }
    }
  } catch (error) {
    // A side died before the kernel took over: nothing was spliced yet.
    for (const d of directions) if (d.pipe) pool.release(d.pipe, 0);
    tearDown([a, b], error as Error);
    throw Object.assign(error as RelayError, { aToB: directions[0]!.early, bToA: directions[1]!.early });
  }

  const c = native.constants;
  let firstError: RelayError | undefined;
  const guard = new TransferGuard({
    signal: options.signal,
    sockets: [a, b],
    idleTimeoutMs: options.idleTimeoutMs,
    progress: () => directions.reduce((sum, d) => sum + (d.job?.progress() ?? 0), 0),
    cancel: () => directions.forEach((d) => d.job?.cancel()),
  });

  const runDirection = async (d: Direction): Promise<void> => {
    // For reports only: the job reads the live fds itself when it starts.
    const fd = socketFd(d.from) ?? -1;
    const outFd = socketFd(d.to) ?? -1;
    try {
      const small = method === 'splice' ? smallMessageSettings(native) : { flags: 0, copyBufferSize: undefined };
      d.job = startNativeJob(native, {
        mode: method === 'splice' ? c.MODE_SPLICE : c.MODE_COPY,
        srcFd: fd,
        dstFd: outFd,
        srcSocket: d.from,
        dstSocket: d.to,
        pipe: d.pipe,
        srcOffset: -1,
        length: -1,
        flags: c.DST_SOCKET | small.flags,
        copyBufferSize: small.copyBufferSize,
      });
    } catch (error) {
      // Never started (a socket closed meanwhile, or dup failed): its pipe is untouched.
      if (d.pipe) pool.release(d.pipe, 0);
      d.pipe = undefined;
      throw error;
    }
    const outcome = (d.outcome = await d.job.done);
    if (d.pipe) pool.release(d.pipe, outcome.inPipe);
    const error = errorFromOutcome(outcome, guard, {
      method,
      length: undefined,
      sourceKind: 'socket',
      outFd,
      signal: options.signal,
      idleTimeoutMs: options.idleTimeoutMs,
    });
    reportTransfer(method, outcome, outFd, fd, error);
    if (error) {
      const relayError = error as RelayError;
      relayError.direction = d.name;
      firstError ??= relayError;
      // One side failed: the other direction has nowhere to go.
      for (const other of directions) other.job?.cancel();
      return;
    }
    halfClose(d.to);
  };

  try {
    await Promise.all(directions.map((d) => runDirection(d).catch((error) => {
      firstError ??= error;
      for (const other of directions) other.job?.cancel();
    })));
  } finally {
    guard.dispose();
  }
  const moved = (d: Direction) => d.early + (d.outcome?.moved ?? 0);
  relayCounters().bytes += moved(directions[0]!) + moved(directions[1]!);
  tearDown([a, b], firstError);
  if (firstError) {
    const error = firstError as RelayError;
    error.aToB = moved(directions[0]!);
    error.bToA = moved(directions[1]!);
    throw error;
  }
  const aToB = moved(directions[0]!);
  const bToA = moved(directions[1]!);
  const copied = method === 'copy' ? aToB + bToA : directions.reduce((sum, d) => sum + d.early + (d.outcome?.copied ?? 0), 0);
  return { aToB, bToA, method, bytesCopied: copied };
}

/** The relay without the addon: Node streams with half-close kept. */
async function relayThroughStreams(
  a: net.Socket,
  b: net.Socket,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number | undefined,
): Promise<RelayResult> {
  const totals = { aToB: 0, bToA: 0 };
  // Without this, Node ends our write side as soon as the peer ends its own.
  a.allowHalfOpen = true;
  b.allowHalfOpen = true;
  return new Promise<RelayResult>((resolve, reject) => {
    let ended = 0;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      guard.dispose();
      tearDown([a, b], error);
      if (error) reject(Object.assign(error, totals));
      else resolve({ ...totals, method: 'copy', bytesCopied: totals.aToB + totals.bToA });
    };
    const pump = (from: net.Socket, to: net.Socket, key: 'aToB' | 'bToA') => {
      from.on('data', (chunk: Buffer) => {
        totals[key] += chunk.length;
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.once('end', () => {
        to.end(() => {
          if (++ended === 2) finish();
        });
      });
      from.once('error', (error) => finish(error));
      from.resume();
    };
    const guard = new TransferGuard({
      signal,
      sockets: [a, b],
      idleTimeoutMs,
      progress: () => totals.aToB + totals.bToA,
      cancel: () => {
        const reason = guard.reason;
        if (reason === 'idle-timeout') finish(createError('ZC_ERR_IDLE_TIMEOUT', [idleTimeoutMs ?? 0]));
        else if (reason === 'aborted') finish(createAbortError(signal));
        else if (ended < 2) finish(createError('ZC_ERR_SOCKET_CLOSED', []));
      },
    });
    pump(a, b, 'aToB');
    pump(b, a, 'bToA');
  });
}
