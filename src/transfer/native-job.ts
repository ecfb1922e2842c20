/**
 * One native transfer job: start it, read its results, cancel it. Policy
 * (fallbacks, what an EOF means, errors to throw) belongs to the callers.
 */
import { JobSlot, type NativeBinding, type NativeJobHandle } from '../native/binding.js';
import type net from 'node:net';

import { createSystemError } from '../native/errno.js';
import { liveSocketFd } from './endpoint.js';

/** Bytes a job moves per event-loop wakeup before letting other callbacks run.
 * 16 MiB gave 6–12 ms loop stalls in the feasibility study; 4 MiB keeps a
 * fast local reader at a few ms while costing one extra wakeup per 4 MiB. */
export const DEFAULT_BUDGET_BYTES = 4 << 20;
/** Buffer of the copy fallback: large enough that syscalls stay cheap per byte. */
export const COPY_BUFFER_BYTES = 256 << 10;
/**
 * Before a read from a regular file, this many bytes ahead (at most: never
 * past what the job will read) are checked for page-cache residency; a miss
 * sends that one read to the threadpool, so the loop never waits for the
 * disk. The finding holds until the job next waits for its socket (job.c):
 * pages can be reclaimed during a wait, and 1,000 slow clients (1 MB/s
 * each, 64 MiB files, on a host whose DAMON reclaim pages out cold page
 * cache) stalled the loop 20-50 ms at a time in sendfile's disk reads when
 * an 8 MiB finding was trusted for the 8 s a client took to read it. So
 * the window is small, and a read never asks past it: cachestat(2) costs
 * ~7.5 µs per MiB however it is cut (measured: 1 MiB 7.7 µs, 4 MiB 29 µs,
 * 16 MiB 110 µs), sendfile itself loops in 64 KiB steps inside the kernel,
 * so 1 MiB reads cost one syscall more per MiB and nothing else.
 */
export const CACHE_WINDOW_BYTES = 1 << 20;
/**
 * Where cachestat(2) is missing (Linux < 6.5) or refused, residency is
 * sampled with one RWF_NOWAIT read per this many bytes: a cold stretch
 * between two probes costs at most one stride of blocking read on the loop.
 */
export const CACHE_PROBE_STRIDE_BYTES = 1 << 20;

export interface NativeJobSpec {
  mode: number;
  /** Ignored when `srcSocket` is set: its fd is read when the job starts. */
  srcFd: number;
  /** Ignored when `dstSocket` is set: its fd is read when the job starts. */
  dstFd: number;
  srcSocket?: net.Socket | undefined;
  dstSocket?: net.Socket | undefined;
  /** Internal pipe, borrowed for the job's lifetime (splice between non-pipes). */
  pipe?: { readFd: number; writeFd: number; capacity: number };
  /** -1: read from and advance the source's file position. */
  srcOffset: number;
  /** -1: until EOF. */
  length: number;
  flags: number;
  head?: Buffer;
  budget?: number;
  copyBufferSize?: number;
  /** Bytes checked for residency before a file read; 0 skips the check (default CACHE_WINDOW_BYTES). */
  cacheWindow?: number;
}

/** What a send job's zero-copy sends came to, as the kernel reported it. */
export interface ZerocopyOutcome {
  /** MSG_ZEROCOPY calls / SEND_ZC requests that took bytes (each owes a completion). */
  sends: number;
  completions: number;
  /** Bytes those sends took. */
  bytes: number;
  /** Of those, bytes whose completion said the kernel copied them after all. */
  copiedBytes: number;
  /** ENOBUFS answers (optmem_max or RLIMIT_MEMLOCK exhausted). */
  enobufs: number;
  /** Bytes sent by copy because ENOBUFS came with no completion to wait for. */
  enobufsCopiedBytes: number;
  /** The socket's next MSG_ZEROCOPY id after the job. */
  nextId: number;
}

export interface JobOutcome {
  /** zc_status_t (0 ok, 1 eof, 2 canceled) or -errno. */
  status: number;
  moved: number;
  /** Of `moved`, bytes a small-message splice job sent from its buffer (SMALL_COPY). */
  copied: number;
  headSent: number;
  inPipe: number;
  syscalls: number;
  offloads: number;
  /** Times the job parked waiting for readiness. */
  waits: number;
  /** Readiness events that reached the job. */
  wakeups: number;
  failedSyscall: string;
  /** Which fd the failure concerns, when known. */
  failedSide: 'src' | 'dst' | undefined;
  /** Send jobs only (zeros for the others). */
  zerocopy: ZerocopyOutcome;
}

export interface RunningJob {
  readonly done: Promise<JobOutcome>;
  /** Ends the job; `done` then resolves with STATUS_CANCELED unless it already ended. */
  cancel(): void;
  /** Bytes written so far (head included). */
  progress(): number;
}

function sideOf(native: NativeBinding, value: number): 'src' | 'dst' | undefined {
  if (value === native.constants.SIDE_SRC) return 'src';
  if (value === native.constants.SIDE_DST) return 'dst';
  return undefined;
}

function readOutcome(native: NativeBinding, slots: Float64Array): JobOutcome {
  return {
    status: slots[JobSlot.Status]!,
    moved: slots[JobSlot.Moved]!,
    copied: slots[JobSlot.Copied]!,
    headSent: slots[JobSlot.HeadSent]!,
    inPipe: slots[JobSlot.InPipe]!,
    syscalls: slots[JobSlot.Syscalls]!,
    offloads: slots[JobSlot.Offloads]!,
    waits: slots[JobSlot.Waits]!,
    wakeups: slots[JobSlot.Wakeups]!,
    failedSyscall: native.syscallNames[slots[JobSlot.FailedSyscall]!] ?? '',
    failedSide: sideOf(native, slots[JobSlot.FailedSide]!),
    zerocopy: {
      sends: slots[JobSlot.ZcSends]!,
      completions: slots[JobSlot.ZcCompletions]!,
      bytes: slots[JobSlot.ZcBytes]!,
      copiedBytes: slots[JobSlot.ZcCopiedBytes]!,
      enobufs: slots[JobSlot.ZcEnobufs]!,
      enobufsCopiedBytes: slots[JobSlot.ZcEnobufsCopied]!,
      nextId: slots[JobSlot.ZcNextId]!,
    },
  };
}

/**
 * Starts a job on dup()s of its two fds (the job closes its dups when it
 * ends; the caller keeps ownership of the originals). A socket's fd is read
 * here, in the same synchronous step as the dup, so a socket Node closed
 * earlier can never lend its recycled number. Throws when a socket is gone,
 * or a system error when the job cannot start (EMFILE from dup, ...) naming
 * the fd whose dup failed.
 */
export function startNativeJob(native: NativeBinding, spec: NativeJobSpec): RunningJob {
  const srcFd = spec.srcSocket ? liveSocketFd(spec.srcSocket) : spec.srcFd;
  const dstFd = spec.dstSocket ? liveSocketFd(spec.dstSocket) : spec.dstFd;
  const slots = new Float64Array(native.constants.JOB_SLOTS);
  slots[JobSlot.Mode] = spec.mode;
  slots[JobSlot.SrcFd] = srcFd;
  slots[JobSlot.DstFd] = dstFd;
  slots[JobSlot.PipeRd] = spec.pipe?.readFd ?? -1;
  slots[JobSlot.PipeWr] = spec.pipe?.writeFd ?? -1;
  slots[JobSlot.PipeCapacity] = spec.pipe?.capacity ?? 0;
  slots[JobSlot.SrcOffset] = spec.srcOffset;
  slots[JobSlot.Length] = spec.length;
  slots[JobSlot.Budget] = spec.budget ?? DEFAULT_BUDGET_BYTES;
  slots[JobSlot.CopyBuffer] = spec.copyBufferSize ?? COPY_BUFFER_BYTES;
  slots[JobSlot.Flags] = spec.flags;
  slots[JobSlot.CacheWindow] = spec.cacheWindow ?? CACHE_WINDOW_BYTES;
  slots[JobSlot.CacheProbeStride] = CACHE_PROBE_STRIDE_BYTES;
  const started = native.startJob(slots, spec.head);
  if (typeof started === 'number') {
    const side = sideOf(native, slots[JobSlot.FailedSide]!);
    const syscall = native.syscallNames[slots[JobSlot.FailedSyscall]!] || 'dup';
    throw createSystemError(started, syscall, side === undefined ? {} : { fd: side === 'src' ? srcFd : dstFd });
  }
  const [promise, handle] = started;
  return {
    done: promise.then(() => readOutcome(native, slots)),
    cancel: () => native.cancelJob(handle as NativeJobHandle),
    progress: () => native.jobProgress(handle),
  };
}

export interface SendJobSpec {
  /** MODE_SEND or MODE_URING_SEND. */
  mode: number;
  /** Its fd is read when the job starts, in the same step as the dup. */
  socket: net.Socket;
  buffers: Uint8Array[];
  /** One flag per buffer: 1 sends it with zero-copy. */
  zerocopy: Uint8Array;
  flags: number;
  /** The socket's next MSG_ZEROCOPY id (MODE_SEND). */
  nextZerocopyId: number;
  budget?: number;
}

export interface RunningSendJob extends RunningJob {
  /** Drops what the kernel still queues on the socket and resets the peer, so pinned pages come back. */
  resetConnection(): number;
}

/**
 * Starts a send job on a dup() of the socket's fd (read here, in the same
 * synchronous step). The buffers stay referenced by the addon until `done`
 * settles, which is after the kernel let go of every page a zero-copy send
 * pinned. Throws like startNativeJob.
 */
export function startNativeSendJob(native: NativeBinding, spec: SendJobSpec): RunningSendJob {
  const dstFd = liveSocketFd(spec.socket);
  const slots = new Float64Array(native.constants.JOB_SLOTS);
  let length = 0;
  for (const buffer of spec.buffers) length += buffer.byteLength;
  slots[JobSlot.Mode] = spec.mode;
  slots[JobSlot.SrcFd] = -1;
  slots[JobSlot.DstFd] = dstFd;
  slots[JobSlot.PipeRd] = -1;
  slots[JobSlot.PipeWr] = -1;
  slots[JobSlot.SrcOffset] = -1;
  slots[JobSlot.Length] = length;
  slots[JobSlot.Budget] = spec.budget ?? DEFAULT_BUDGET_BYTES;
  slots[JobSlot.Flags] = spec.flags;
  slots[JobSlot.ZcNextId] = spec.nextZerocopyId;
  const started = native.startSendJob(slots, spec.buffers, spec.zerocopy);
  if (typeof started === 'number') {
    const syscall = native.syscallNames[slots[JobSlot.FailedSyscall]!] || 'dup';
    throw createSystemError(started, syscall, { fd: dstFd });
  }
  const [promise, handle] = started;
  return {
    done: promise.then(() => readOutcome(native, slots)),
    cancel: () => native.cancelJob(handle),
    progress: () => native.jobProgress(handle),
    resetConnection: () => native.resetConnection(handle),
  };
}
