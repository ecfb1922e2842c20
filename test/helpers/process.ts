/**
 * Process-level observations: open fds and event-loop delay.
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Open fds of this process (procfs). */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * Open fds of this process that point at files under `dir`. Counting only
 * these keeps a test immune to fds that other code is still closing
 * asynchronously when the test takes its baseline.
 */
export function openFdsUnder(dir: string): number {
  const prefix = fs.realpathSync(dir) + '/';
  let count = 0;
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${name}`).startsWith(prefix)) count++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return count;
}

/** Polls `count()` every 20 ms until `settled(n)` or `timeoutMs`; returns the last count seen. */
async function pollCount(count: () => number, settled: (n: number) => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let seen = count();
  while (!settled(seen) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    seen = count();
  }
  return seen;
}

/** Waits (bounded) until `count()` is back to `expected`; returns the last count seen. */
export function settleCount(count: () => number, expected: number, timeoutMs = 2000): Promise<number> {
  return pollCount(count, (n) => n === expected, timeoutMs);
}

/**
 * Asserts that the fd count comes back to at most `baseline`. "At most",
 * because an fd that other code was closing asynchronously when the baseline
 * was taken may be gone by now; a leak is only ever a count above it.
 */
export async function assertNoFdLeak(baseline: number, timeoutMs = 2000): Promise<void> {
  const final = await pollCount(openFdCount, (n) => n <= baseline, timeoutMs);
  if (final > baseline) throw new Error(`fd leak: ${final} fds open, ${baseline} before`);
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
