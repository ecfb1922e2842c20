/**
 * sendFile: a file (or pipe, or socket) to a socket or fd, in the kernel.
 */
import { createAbortError, createError } from '../errors.js';
import { getNative } from '../native/capabilities.js';
import { copyThroughUserSpace } from './copy-fallback.js';
import { openSource, prepareTarget, type Source, type SourceInput, type Target, type TargetInput } from './endpoint.js';
import { reportTransfer, endpointFlags, headFlags, runWithFallback, type TransferResult } from './run.js';
import { trackInFlight, recordFallback, type TransferMethod } from './metrics.js';
import type { NativeBinding } from '../native/binding.js';
import type { NativeJobSpec } from './native-job.js';
import { lendPipeOrCountFallback, sharedPipePool, type Pipe, type PipePool } from './pipe-pool.js';
import { checkBuffer, checkByteCount, checkMethod, checkOptionsObject, checkSignal } from './options.js';

export interface SendFileOptions {
  /**
   * Where to start reading. Given: the file's position is neither used nor
   * moved (sendfile(2) with an offset pointer). Omitted: reads from the
   * current position and advances it (sendfile(2) with NULL).
   */
  offset?: number;
  /** Bytes to send. Omitted: until EOF. A file shorter than this fails with ZC_ERR_FILE_TRUNCATED. */
  length?: number;
  signal?: AbortSignal;
  /** 'copy' forces the user-space path (for comparison and tests). */
  method?: 'auto' | 'copy';
  /** Bytes written before the body in the same stream (e.g. HTTP headers), with MSG_MORE. */
  prefix?: Buffer | Uint8Array;
  /** Pipe pool for sources that need one (sockets); defaults to the process-wide pool. */
  pipePool?: PipePool;
}

interface Plan {
  mode: number;
  method: TransferMethod;
  needsPipe: boolean;
}

function planTransfer(native: NativeBinding, source: Source, target: Target, forceCopy: boolean): Plan {
  const c = native.constants;
  if (forceCopy) return { mode: c.MODE_COPY, method: 'copy', needsPipe: false };
  if (source.kind === 'file') return { mode: c.MODE_SENDFILE, method: 'sendfile', needsPipe: false };
  // sendfile(2) cannot read pipes or sockets; splice can, directly when one
  // end is a pipe, else through an internal pipe.
  const direct = source.kind === 'pipe' || target.kind === 'pipe';
  return { mode: c.MODE_SPLICE, method: 'splice', needsPipe: !direct };
}

/**
 * Sends `file` (a path, fd or FileHandle; a path is opened and closed here)
 * to `out` (a connected net.Socket or an fd) without copying through user
 * space: sendfile(2) for files, splice(2) for pipes and sockets, and a
 * read/write copy when the kernel refuses these fds or the addon is missing.
 *
 * Ownership: fds the caller passes stay the caller's; the transfer works on
 * dup()s it closes before settling, so bytes can never reach a recycled fd.
 * While it runs, nothing else may write to `out`. A socket that closes, or
 * an aborted `signal`, stops it (ZC_ERR_SOCKET_CLOSED / AbortError).
 *
 * Resolves with `{ bytes, method }`. Errors after bytes moved carry
 * `bytesWritten`; nothing is sent twice.
 */
export async function sendFile(out: TargetInput, file: SourceInput, options?: SendFileOptions): Promise<TransferResult> {
  const opts = checkOptionsObject<SendFileOptions>(options);
  const offset = checkByteCount(opts.offset, 'options.offset');
  const length = checkByteCount(opts.length, 'options.length');
  const signal = checkSignal(opts.signal);
  const forced = checkMethod(opts.method, ['auto', 'copy'] as const);
  const prefix = checkBuffer(opts.prefix, 'options.prefix');
  if (signal?.aborted) throw createAbortError(signal, { bytesWritten: 0 });

  const target = await prepareTarget(out, 'out', signal);
  const source = await openSource(file);
  trackInFlight(1);
  try {
    if (offset !== undefined && source.kind !== 'file') {
      throw createError('ZC_ERR_INVALID_ARG', ['options.offset', 'omitted when the source cannot seek (pipe, socket)', offset]);
    }
    const native = getNative();
    if (native === null || target.kind === 'tls') {
      if (native !== null) recordFallback('copy:tls-or-unreachable-socket');
      const result = await copyThroughUserSpace(source, target, { offset, length, signal, head: prefix }).catch((error) => {
        reportTransfer('copy', { moved: error.bytesWritten ?? 0, syscalls: 0, offloads: 0 }, target.fd, source.fd, error);
        throw error;
      });
      reportTransfer('copy', { moved: result.bytes, syscalls: 0, offloads: 0 }, target.fd, source.fd, undefined);
      return { bytes: result.bytes, method: 'copy' };
    }
    const plan = planTransfer(native, source, target, forced === 'copy');
    const pool = plan.needsPipe ? (opts.pipePool ?? sharedPipePool()) : undefined;
    let pipe: Pipe | undefined;
    let { mode, method } = plan;
    if (pool) {
      pipe = lendPipeOrCountFallback(pool);
      if (!pipe) {
        mode = native.constants.MODE_COPY;
        method = 'copy';
      }
    }
    const spec: NativeJobSpec = {
      mode,
      srcFd: source.fd,
      dstFd: target.fd,
      dstSocket: target.socket,
      pipe,
      srcOffset: offset ?? -1,
      length: length ?? -1,
      flags: endpointFlags(native, source.kind, target.kind) | headFlags(native, prefix, length),
      head: prefix,
    };
    return await runWithFallback(native, {
      spec,
      method,
      pool,
      guard: { signal, sockets: target.socket ? [target.socket] : [] },
      context: { length, sourceKind: source.kind, outFd: target.fd, inFd: source.fd, signal },
    });
  } finally {
    trackInFlight(-1);
    await source.close();
  }
}
