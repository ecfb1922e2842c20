/**
 * Process-level observations: open fds and event-loop delay.
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Open fds of this process (procfs). */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Waits (bounded) until the open fd count is back to `expected`; returns the last count seen. */
export async function settleFdCount(expected: number, timeoutMs = 2000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = openFdCount();
  while (count > expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    count = openFdCount();
  }
  return count;
}

/** Measures event-loop delay until `stop()`: p99 and max in milliseconds. */
export function measureLoopDelay(): { stop(): { p99: number; max: number; mean: number } } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      return {
        p99: histogram.percentile(99) / 1e6,
        max: histogram.max / 1e6,
        mean: histogram.mean / 1e6,
      };
    },
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}
