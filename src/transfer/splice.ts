/**
 * splice and tee: moving bytes between pipes, sockets and files in the kernel.
 */
import net from 'node:net';

import { createAbortError, createError } from '../errors.js';
import { getNative } from '../native/capabilities.js';
import { copyThroughUserSpace, writeAll } from './copy-fallback.js';
import { assertFd, kindOfFd, prepareTarget, socketGoneError, type FdKind } from './endpoint.js';
import { trackInFlight, type TransferMethod } from './metrics.js';
import type { NativeJobSpec } from './native-job.js';
import { checkByteCount, checkMethod, checkOptionsObject, checkSignal } from './options.js';
import { lendPipeOrCountFallback, sharedPipePool, type Pipe, type PipePool } from './pipe-pool.js';
import { endpointFlags, errorFromOutcome, reportTransfer, runGuardedJob, runWithFallback, type TransferResult } from './run.js';
import { takeOverReading } from './takeover.js';

export interface SpliceOptions {
  /** Bytes to move; omitted: until the source reaches EOF. */
  length?: number;
  /** Source offset, for a file source only (its position is then left alone). */
  offset?: number;
  signal?: AbortSignal;
  method?: 'auto' | 'copy';
  pipePool?: PipePool;
}

interface SpliceSource {
  fd: number;
  kind: FdKind;
  socket?: net.Socket;
}

/**
 * Moves bytes from `from` to `to` with splice(2): directly when either is a
 * pipe, otherwise through a pipe from the pool (copying when none is left).
 * A net.Socket source is taken over: Node stops reading it, and bytes it had
 * already buffered are written to `to` first (they count in `bytes`). When
 * this settles, Node still does not read it; `socket.resume()` hands it back.
 * Fds stay the caller's; the transfer works on dup()s.
 */
export async function splice(from: net.Socket | number, to: net.Socket | number, options?: SpliceOptions): Promise<TransferResult> {
  const opts = checkOptionsObject<SpliceOptions>(options);
  let length = checkByteCount(opts.length, 'options.length');
  const offset = checkByteCount(opts.offset, 'options.offset');
  const signal = checkSignal(opts.signal);
  const forced = checkMethod(opts.method, ['auto', 'copy'] as const);
  if (signal?.aborted) throw createAbortError(signal, { bytesWritten: 0 });

  let source: SpliceSource;
  if (from instanceof net.Socket) {
    if (from.destroyed) throw socketGoneError(from);
    const fromTarget = await prepareTarget(from, 'from', signal);
    if (fromTarget.kind === 'tls') throw createError('ZC_ERR_SOCKET_UNUSABLE', ['TLS sockets cannot be spliced']);
    source = { fd: fromTarget.fd, kind: 'socket', socket: from };
  } else {
    assertFd(from, 'from');
    source = { fd: from, kind: kindOfFd(from) };
  }
  if (offset !== undefined && source.kind !== 'file') {
    throw createError('ZC_ERR_INVALID_ARG', ['options.offset', 'omitted when the source cannot seek', offset]);
  }
  const target = await prepareTarget(to, 'to', signal);

  let early = 0;
  if (source.socket) {
    const buffered = Buffer.concat(takeOverReading(source.socket));
    let forward = buffered;
    if (length !== undefined && buffered.length > length) {
      forward = buffered.subarray(0, length);
      source.socket.unshift(buffered.subarray(length));
    }
    if (forward.length > 0) await writeAll(target, forward, signal);
    early = forward.length;
    if (length !== undefined) length -= early;
  }

  trackInFlight(1);
  try {
    const native = getNative();
    if (native === null || target.kind === 'tls') {
      const result = await copyThroughUserSpace({ ...source, close: async () => {} }, target, { offset, length, signal });
      reportTransfer('copy', { moved: result.bytes, syscalls: 0, offloads: 0 }, target.fd, source.fd, undefined);
      return { bytes: early + result.bytes, method: 'copy' };
    }
    const direct = source.kind === 'pipe' || target.kind === 'pipe';
    let method: TransferMethod = forced === 'copy' ? 'copy' : 'splice';
    let pool: PipePool | undefined;
    let pipe: Pipe | undefined;
    if (method === 'splice' && !direct) {
      pool = opts.pipePool ?? sharedPipePool();
      pipe = lendPipeOrCountFallback(pool);
      if (!pipe) method = 'copy';
    }
    const spec: NativeJobSpec = {
      mode: method === 'copy' ? native.constants.MODE_COPY : native.constants.MODE_SPLICE,
      srcFd: source.fd,
      dstFd: target.fd,
      srcSocket: source.socket,
      dstSocket: target.socket,
      pipe,
      srcOffset: offset ?? -1,
      length: length ?? -1,
      flags: endpointFlags(native, source.kind, target.kind),
    };
    const sockets = [source.socket, target.socket].filter((s): s is net.Socket => s !== undefined);
    try {
      const result = await runWithFallback(native, {
        spec,
        method,
        pool,
        guard: { signal, sockets },
        context: { length, sourceKind: source.kind, outFd: target.fd, inFd: source.fd, signal },
      });
      return { bytes: early + result.bytes, method: result.method };
    } catch (error) {
      const e = error as { bytesWritten?: number };
      if (typeof e.bytesWritten === 'number') e.bytesWritten += early;
      throw error;
    }
  } finally {
    trackInFlight(-1);
  }
}

export interface TeeOptions {
  /** Most bytes to duplicate (default: as much as the pipe holds). */
  length?: number;
  signal?: AbortSignal;
}

/** Largest tee request: pipes never hold more than fs.pipe-max-size allows. */
const TEE_MAX_BYTES = 1 << 30;

/**
 * Duplicates bytes waiting in pipe `pipeIn` into pipe `pipeOut` without
 * consuming them (tee(2)): waits until `pipeIn` has data and `pipeOut` room,
 * duplicates once, and resolves with how many bytes it copied (0 when
 * `pipeIn` has no writers left and is empty). Read `pipeIn` afterwards to
 * consume them. Linux only: elsewhere it rejects with ZC_ERR_UNSUPPORTED.
 */
export async function tee(pipeIn: number, pipeOut: number, options?: TeeOptions): Promise<TransferResult> {
  const opts = checkOptionsObject<TeeOptions>(options);
  const length = checkByteCount(opts.length, 'options.length') ?? TEE_MAX_BYTES;
  const signal = checkSignal(opts.signal);
  assertFd(pipeIn, 'pipeIn');
  assertFd(pipeOut, 'pipeOut');
  if (kindOfFd(pipeIn) !== 'pipe') throw createError('ZC_ERR_NOT_A_PIPE', ['pipeIn']);
  if (kindOfFd(pipeOut) !== 'pipe') throw createError('ZC_ERR_NOT_A_PIPE', ['pipeOut']);
  if (signal?.aborted) throw createAbortError(signal, { bytesWritten: 0 });
  const native = getNative();
  if (native === null) throw createError('ZC_ERR_UNSUPPORTED', ['tee']);
  trackInFlight(1);
  try {
    const spec: NativeJobSpec = {
      mode: native.constants.MODE_TEE,
      srcFd: pipeIn,
      dstFd: pipeOut,
      srcOffset: -1,
      length,
      flags: endpointFlags(native, 'pipe', 'pipe'),
    };
    const { outcome, cause } = await runGuardedJob(native, spec, { signal });
    // EOF (no writers, empty pipe) is an ordinary answer for tee: 0 bytes.
    const error = outcome.status === 1 ? undefined
      : errorFromOutcome(outcome, cause, { method: 'tee', length: undefined, sourceKind: 'pipe', outFd: pipeOut, signal });
    reportTransfer('tee', outcome, pipeOut, pipeIn, error);
    if (error) throw error;
    return { bytes: outcome.moved, method: 'tee' };
  } finally {
    trackInFlight(-1);
  }
}
