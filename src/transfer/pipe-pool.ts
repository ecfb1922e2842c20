/**
 * A bounded pool of kernel pipes for splicing between two non-pipes (the
 * HAProxy `maxpipes` idea, and Go's splice pipe pool). A pipe goes back to
 * the pool only when it is provably empty: the transfer counted zero bytes
 * left in it AND the kernel agrees (FIONREAD). Anything else is closed,
 * never reused: leftover bytes belong to a transfer that died, and the next
 * transfer on that pipe would deliver them to another peer. When the pool is
 * exhausted, callers copy instead.
 *
 * The pipes belong to the addon's environment (poolPipeOpen): when a worker
 * thread ends, the addon closes the ones its pool still held.
 */
import type { NativeBinding } from '../native/binding.js';
import { getNative } from '../native/capabilities.js';
import { pipeCounters, recordFallback } from './metrics.js';

/** Go and HAProxy size splice pipes at 1 MiB: fewer wakeups per byte. Non-root
 * users get 64 KiB pipes once fs.pipe-user-pages-soft is used up; that is fine. */
export const PIPE_SIZE_HINT_BYTES = 1 << 20;
/** Each pipe costs two fds, so the cap counts against RLIMIT_NOFILE. */
export const DEFAULT_MAX_PIPES = 1024;
export const DEFAULT_MAX_IDLE_PIPES = 64;

export interface Pipe {
  readFd: number;
  writeFd: number;
  capacity: number;
}

export interface PipePoolOptions {
  maxPipes?: number;
  maxIdle?: number;
  sizeHint?: number;
}

/**
 * Pipes lent to splice transfers between two non-pipes. Pass one as
 * `pipePool` to sendFile, splice or relay (or to createProxy) to bound the
 * pipes those transfers use; without the addon it lends nothing and the
 * transfers copy. Pipes are created on demand, `maxIdle` are kept for reuse.
 */
export class PipePool {
  private readonly idle: Pipe[] = [];
  /** The addon that made this pool's pipes: they must be closed by the same one. */
  private native: NativeBinding | null | undefined;
  private live = 0;
  readonly maxPipes: number;
  readonly maxIdle: number;
  readonly sizeHint: number;

  constructor(options: PipePoolOptions = {}) {
    this.maxPipes = options.maxPipes ?? DEFAULT_MAX_PIPES;
    this.maxIdle = options.maxIdle ?? DEFAULT_MAX_IDLE_PIPES;
    this.sizeHint = options.sizeHint ?? PIPE_SIZE_HINT_BYTES;
  }

  /** Pipes currently lent out or idle. */
  get size(): number {
    return this.live;
  }

  /** A pipe, or undefined when `maxPipes` are in use or the kernel refuses (EMFILE, ENFILE). */
  acquire(): Pipe | undefined {
    const reused = this.idle.pop();
    if (reused) {
      pipeCounters().idle--;
      return reused;
    }
    if (this.live >= this.maxPipes) return undefined;
    const native = (this.native ??= getNative());
    if (native === null) return undefined;
    const made = native.poolPipeOpen(this.sizeHint);
    if (typeof made === 'number') return undefined;
    const [readFd, writeFd, capacity] = made;
    this.live++;
    const counters = pipeCounters();
    counters.created++;
    counters.live++;
    if (capacity < this.sizeHint) counters.resizeRefused++;
    counters.lastCapacity = capacity;
    counters.smallestCapacity = counters.smallestCapacity === 0 ? capacity : Math.min(counters.smallestCapacity, capacity);
    return { readFd, writeFd, capacity };
  }

  /**
   * Takes a pipe back. `bytesInside` is what the transfer counted left in it;
   * unless that is 0 and the pipe really is empty, it is closed.
   */
  release(pipe: Pipe, bytesInside: number): void {
    if (bytesInside !== 0 || this.native?.pipeBytes(pipe.readFd) !== 0) {
      pipeCounters().destroyedWithData++;
      this.destroy(pipe);
    } else if (this.idle.length < this.maxIdle) {
      this.idle.push(pipe);
      pipeCounters().idle++;
    } else {
      this.destroy(pipe);
    }
  }

  private destroy(pipe: Pipe): void {
    this.native?.poolPipeClose(pipe.readFd, pipe.writeFd);
    this.live--;
    pipeCounters().live--;
  }

  /** Closes every idle pipe (lent pipes close when released). */
  drain(): void {
    while (this.idle.length > 0) {
      this.destroy(this.idle.pop()!);
      pipeCounters().idle--;
    }
  }
}

/**
 * A pipe for a splice between two non-pipes, or undefined (after counting the
 * fallback) when the pool is exhausted and the caller must copy instead.
 */
export function lendPipeOrCountFallback(pool: PipePool): Pipe | undefined {
  const pipe = pool.acquire();
  if (!pipe) recordFallback('splice:no-pipe-available');
  return pipe;
}

let shared: PipePool | undefined;

/** The process-wide pool used when callers do not pass their own. */
export function sharedPipePool(): PipePool {
  shared ??= new PipePool();
  return shared;
}
