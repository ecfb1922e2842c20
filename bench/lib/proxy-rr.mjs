// Request/response mode of the proxy benchmark (issue 16): many small
// messages on long-lived connections, the traffic of databases, caches and
// RPC services, rather than one bulk stream.
//
// One scenario = connections × message size × pipelining depth. For each
// relay: a fresh echo upstream (clients/rrclient.c echo), a fresh relay in
// front of it (none for the direct baseline), then rrclient load for a warm-up
// and a counted window; the relay's CPU time is sampled from /proc over
// exactly the counted window (rrclient prints when it starts counting).
// Syscalls per round trip come from a separate, untimed pass under strace.

import { spawn } from 'node:child_process';
import { compileClient } from './compile.mjs';
import { cpuDelta, findFreePort, listGroup, sampleGroupCpu, startServer } from './proc.mjs';
import { countSyscalls } from './syscalls.mjs';

/** The scenario's name as the reports show it: '50 conn · 4 KiB · depth 16'. */
export function scenarioLabel({ connections, size, depth }) {
  const bytes = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
  return `${connections} conn · ${bytes} · depth ${depth}`;
}

/** Starts the echo upstream on a free port; resolves { port, handle }. */
async function startEcho() {
  const binary = compileClient('rrclient');
  const port = await findFreePort();
  const handle = await startServer({ name: 'rrclient echo', command: binary, args: ['echo', '-p', String(port)], port });
  return { port, handle };
}

/**
 * Runs rrclient load against `port`; calls `onMeasuring` when it starts
 * counting and resolves its final record. Killed (and rejected) after
 * `timeoutMs`.
 */
function runLoad({ port, scenario, seconds, warmupSeconds, onMeasuring = () => {}, timeoutMs }) {
  const binary = compileClient('rrclient');
  const args = ['load', '-p', String(port), '-c', String(scenario.connections), '-s', String(scenario.size),
    '-d', String(scenario.depth), '-t', String(seconds), '-w', String(warmupSeconds)];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let done = null;
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const record = JSON.parse(line);
        if (record.event === 'measuring') onMeasuring();
        if (record.event === 'done') done = record;
      }
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (done && done.errors === 0 && done.failed_connections === 0) resolve(done);
      else reject(new Error(`rrclient ${signal ?? `exit ${code}`}: ${done ? JSON.stringify(done) : stderr.trim() || 'no result'}`));
    });
  });
}

async function startRelay(proxy, upstreamPort, zerocopyArgs) {
  const port = await findFreePort();
  const handle = await startServer({ name: proxy.label, port, ...proxy.command({ listenPort: port, upstreamPort, zerocopyArgs }) });
  return { port, handle };
}

/**
 * One measured run of one relay in one scenario. Resolves
 *   { proxy, scenario, run, outcome: 'ok' | 'not-started' | 'failed', reason?,
 *     requests, seconds, p50Us, p99Us, userSeconds, sysSeconds }
 * (CPU is null for the direct connection). Stops everything it started.
 */
export async function measureRrRun({ proxy, scenario, run, seconds, warmupSeconds, zerocopyArgs }) {
  const base = { proxy: proxy.id, scenario, run };
  const echo = await startEcho();
  let relay = null;
  try {
    let port = echo.port;
    if (proxy.command) {
      try {
        relay = await startRelay(proxy, echo.port, zerocopyArgs);
      } catch (err) {
        if (err.code !== 'BENCH_NOT_STARTED') throw err;
        return { ...base, outcome: 'not-started', reason: err.message };
      }
      port = relay.port;
    }
    let before = null;
    const done = await runLoad({
      port,
      scenario,
      seconds,
      warmupSeconds,
      onMeasuring: () => {
        if (relay) before = sampleGroupCpu(relay.handle.pgid);
      },
      timeoutMs: (seconds + warmupSeconds + 30) * 1000,
    });
    const cpu = relay && before ? cpuDelta(before, sampleGroupCpu(relay.handle.pgid)) : { userSeconds: null, sysSeconds: null };
    return { ...base, outcome: 'ok', requests: done.requests, seconds: done.seconds, p50Us: done.p50_us, p99Us: done.p99_us, ...cpu };
  } catch (err) {
    return { ...base, outcome: 'failed', reason: err.message };
  } finally {
    if (relay) await relay.handle.stop();
    await echo.handle.stop();
  }
}

/**
 * Untimed: the relay's syscalls per round trip under strace -f -c, for one
 * scenario (a short run; strace slows the relay several-fold). Resolves
 *   { proxy, scenario, outcome, reason?, requests, syscalls: [{ syscall, calls, errors }] }
 */
export async function traceRrSyscalls({ proxy, scenario, seconds, zerocopyArgs }) {
  const base = { proxy: proxy.id, scenario };
  const echo = await startEcho();
  let relay = null;
  try {
    try {
      relay = await startRelay(proxy, echo.port, zerocopyArgs);
    } catch (err) {
      if (err.code !== 'BENCH_NOT_STARTED') throw err;
      return { ...base, outcome: 'not-started', reason: err.message };
    }
    // Warm the relay (lazy module loads, first connection) outside the trace.
    await runLoad({ port: relay.port, scenario, seconds: 1, warmupSeconds: 0, timeoutMs: 30000 });
    if (listGroup(relay.handle.pgid).length === 0) throw new Error('the relay exited');
    let requests = 0;
    const syscalls = await countSyscalls(relay.handle.pgid, async () => {
      const done = await runLoad({ port: relay.port, scenario, seconds, warmupSeconds: 0, timeoutMs: (seconds + 60) * 1000 });
      requests = done.requests;
    });
    return { ...base, outcome: 'ok', requests, syscalls };
  } catch (err) {
    return { ...base, outcome: 'failed', reason: err.message };
  } finally {
    if (relay) await relay.handle.stop();
    await echo.handle.stop();
  }
}
