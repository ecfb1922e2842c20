/**
 * One native transfer job: start it, read its results, cancel it. Policy
 * (fallbacks, what an EOF means, errors to throw) belongs to the callers.
 */
import { ResultSlot, type NativeBinding, type NativeJobHandle } from '../native/binding.js';
import { createSystemError } from '../native/errno.js';

/** Bytes a job moves per event-loop wakeup before letting other callbacks run.
 * 16 MiB gave 6–12 ms loop stalls in the feasibility study; 4 MiB keeps a
 * fast local reader at a few ms while costing one extra wakeup per 4 MiB. */
export const DEFAULT_BUDGET_BYTES = 4 << 20;
/** Buffer of the copy fallback: large enough that syscalls stay cheap per byte. */
export const COPY_BUFFER_BYTES = 256 << 10;

export interface NativeJobSpec {
  mode: number;
  srcFd: number;
  dstFd: number;
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
}

export interface JobOutcome {
  /** zc_status_t (0 ok, 1 eof, 2 canceled) or -errno. */
  status: number;
  moved: number;
  headSent: number;
  inPipe: number;
  syscalls: number;
  offloads: number;
  waits: number;
  failedSyscall: string;
}

export interface RunningJob {
  readonly done: Promise<JobOutcome>;
  /** Ends the job; `done` then resolves with STATUS_CANCELED unless it already ended. */
  cancel(): void;
  /** Bytes written so far (head included). */
  progress(): number;
}

function readOutcome(native: NativeBinding, results: Float64Array): JobOutcome {
  return {
    status: results[ResultSlot.Status]!,
    moved: results[ResultSlot.Moved]!,
    headSent: results[ResultSlot.HeadSent]!,
    inPipe: results[ResultSlot.InPipe]!,
    syscalls: results[ResultSlot.Syscalls]!,
    offloads: results[ResultSlot.Offloads]!,
    waits: results[ResultSlot.Waits]!,
    failedSyscall: native.syscallNames[results[ResultSlot.FailedSyscall]!] ?? '',
  };
}

/**
 * Starts a job on dup()s of `srcFd` and `dstFd` (the job closes its dups when
 * it ends; the caller keeps ownership of the originals). Throws a system
 * error when the job cannot start (EMFILE from dup, ...).
 */
export function startNativeJob(native: NativeBinding, spec: NativeJobSpec): RunningJob {
  const results = new Float64Array(new ArrayBuffer(8 * native.constants.RESULT_SLOTS));
  const started = native.startJob(
    spec.mode,
    spec.srcFd,
    spec.dstFd,
    spec.pipe?.readFd ?? -1,
    spec.pipe?.writeFd ?? -1,
    spec.pipe?.capacity ?? 0,
    spec.srcOffset,
    spec.length,
    spec.budget ?? DEFAULT_BUDGET_BYTES,
    spec.copyBufferSize ?? COPY_BUFFER_BYTES,
    spec.flags,
    results,
    spec.head,
  );
  if (typeof started === 'number') {
    throw createSystemError(started, native.syscallNames[results[ResultSlot.FailedSyscall]!] || 'dup', { fd: spec.dstFd });
  }
  const [promise, handle] = started;
  return {
    done: promise.then(() => readOutcome(native, results)),
    cancel: () => native.cancelJob(handle as NativeJobHandle),
    progress: () => native.jobProgress(handle),
  };
}
