// Preloaded into a Node server under test (NODE_OPTIONS=--import this file)
// when a benchmark wants its event-loop delay: monitors the loop for the
// process's life (SIGUSR2 from the harness restarts it, at the start of the
// measured window) and, at exit, writes
//   {"p50Ms":…,"p99Ms":…,"maxMs":…}
// to $BENCH_LOOP_DELAY_FILE.<pid>. The file is the harness's to read and delete.
// Node's histogram records the whole interval between its timer's callbacks
// (an idle loop shows p50 ≈ 10.1 ms at resolution 10), so the figures written
// are that interval minus the resolution: how late the loop was.

import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
const target = process.env.BENCH_LOOP_DELAY_FILE;
if (target) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  process.on('SIGUSR2', () => histogram.reset());
  process.once('exit', () => {
    histogram.disable();
    const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    writeFileSync(`${target}.${process.pid}`, JSON.stringify({ p50Ms: ms(histogram.percentile(50)), p99Ms: ms(histogram.percentile(99)), maxMs: ms(histogram.max) }));
  });
}
