// bench:http --sweep (issue 11): how a static server's cost moves with the
// number of clients, measured side by side with its peers in one run.
//
//  1. Concurrency: 1, 100, 1,000 and 10,000 keep-alive connections (wrk),
//     4 KiB and 1 MiB files: req/s, server CPU µs per request, peak RSS and
//     RSS per connection (the growth over one connection, divided by N).
//  2. Slow clients: 1,000 clients each reading a 64 MiB file at ~1 MB/s
//     (clients/slowread.c) for a fixed time: server CPU per GB, peak RSS and,
//     for Node servers, the event-loop delay (peers/loop-delay-probe.mjs).
//  3. Workers: zerocopy serve --workers 1..cores at 4 KiB.
//
// Servers and wrk run with RLIMIT_NOFILE raised to the hard limit so 10,000
// connections fit; nginx gets worker_connections to match.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { compileClient } from './compile.mjs';
import { FIXTURE_DIR, formatSize } from './fixtures.mjs';
import { harnessRunDir } from './paths.mjs';
import { cpuDelta, findFreePort, peakGroupRssKiB, runBounded, sampleGroupCpu, startServer } from './proc.mjs';
import { verifyHttpBody } from './verify-http.mjs';
import { parseWrkReport } from './wrk.mjs';
import { BENCH_DIR } from './paths.mjs';

/**
 * RLIMIT_NOFILE for servers and clients: the hard limit (raising the soft
 * one needs no privilege). 10,000 connections need a little over 10,000 fds
 * per process; where the hard limit is lower, the 10,000 point fails and the
 * report says why.
 */
const RAISE_NOFILE = 'ulimit -n "$(ulimit -Hn)"';

const PROBE = join(BENCH_DIR, 'peers', 'loop-delay-probe.mjs');

/** Runs `command args` with RLIMIT_NOFILE raised (the shell's ulimit, then exec). */
function withFileLimit({ command, args, ...rest }) {
  return { command: 'sh', args: ['-c', `${RAISE_NOFILE} && exec "$0" "$@"`, command, ...args], ...rest };
}

async function startSweepServer(server, connections, extraArgs = []) {
  const port = await findFreePort();
  const delayFile = join(harnessRunDir(), `loop-delay-${port}`);
  const spec = server.command({ root: FIXTURE_DIR, port, zerocopyArgs: extraArgs, connections });
  const isNode = spec.command === process.execPath;
  const env = isNode ? { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PROBE}`.trim(), BENCH_LOOP_DELAY_FILE: delayFile } : process.env;
  const handle = await startServer({ name: server.label, port, env, ...withFileLimit(spec) });
  return { port, handle, isNode, delayFile };
}

/** The server's loop-delay record written at exit, if it is a Node server (the primary's, for --workers). */
function readLoopDelay(started) {
  if (!started.isNode) return null;
  const file = `${started.delayFile}.${started.handle.pid}`;
  if (!existsSync(file)) return null;
  const record = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  return record;
}

async function runWrk({ url, connections, seconds }) {
  const args = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '--latency', url];
  const { code, stdout, stderr, timedOut } = await runBounded('sh', ['-c', `${RAISE_NOFILE} && exec wrk "$@"`, 'wrk', ...args], { timeoutMs: (seconds + 60) * 1000 });
  if (timedOut || code !== 0) throw new Error(`wrk failed (${timedOut ? 'timed out' : `exit ${code}`}): ${stderr.trim() || stdout.trim()}`);
  return parseWrkReport(stdout);
}

/**
 * One concurrency point: `server` serving `fixture` to `connections` wrk
 * connections. Resolves { kind: 'concurrency', server, bytesPerFile,
 * connections, run, outcome, reason?, requests, seconds, errors,
 * userSeconds, sysSeconds, rssKiB, latencyP99Ms }.
 */
export async function measureConcurrency({ server, fixture, connections, run, seconds, warmupSeconds, extraArgs }) {
  const base = { kind: 'concurrency', server: server.id, bytesPerFile: fixture.bytes, connections, run };
  let started;
  try {
    started = await startSweepServer(server, connections, extraArgs);
  } catch (err) {
    if (err.code !== 'BENCH_NOT_STARTED') throw err;
    return { ...base, outcome: 'not-started', reason: err.message };
  }
  try {
    if (run === 1) {
      const problem = await verifyHttpBody({ port: started.port, fixture });
      if (problem) return { ...base, outcome: 'failed', reason: `wrong response: ${problem}` };
    }
    const url = `http://127.0.0.1:${started.port}${fixture.urlPath}`;
    await runWrk({ url, connections, seconds: warmupSeconds });
    const before = sampleGroupCpu(started.handle.pgid);
    const result = await runWrk({ url, connections, seconds });
    const cpu = cpuDelta(before, sampleGroupCpu(started.handle.pgid));
    return { ...base, outcome: 'ok', requests: result.requests, seconds: result.seconds, errors: result.errors, errorKinds: result.errorKinds, ...cpu, rssKiB: peakGroupRssKiB(started.handle.pgid), latencyP99Ms: result.latencyMs.p99 };
  } catch (err) {
    return { ...base, outcome: 'failed', reason: err.message };
  } finally {
    await started.handle.stop();
  }
}

/**
 * Slow clients: `clients` connections each reading `fixture` at
 * `bytesPerSecond` for `seconds`. Resolves { kind: 'slow', server, clients,
 * run, outcome, reason?, bytes, seconds, errors, userSeconds, sysSeconds,
 * rssKiB, loopDelay: { p50Ms, p99Ms, maxMs } | null }.
 */
export async function measureSlowClients({ server, fixture, clients, bytesPerSecond, seconds, run, extraArgs }) {
  const base = { kind: 'slow', server: server.id, clients, run };
  let started;
  try {
    started = await startSweepServer(server, clients, extraArgs);
  } catch (err) {
    if (err.code !== 'BENCH_NOT_STARTED') throw err;
    return { ...base, outcome: 'not-started', reason: err.message };
  }
  let result = null;
  let cpu = null;
  let rssKiB = null;
  try {
    const binary = compileClient('slowread');
    const before = sampleGroupCpu(started.handle.pgid);
    if (started.isNode) process.kill(started.handle.pid, 'SIGUSR2'); // the loop-delay window starts now
    const args = ['-p', String(started.port), '-u', fixture.urlPath, '-c', String(clients), '-r', String(bytesPerSecond), '-d', String(seconds)];
    const { code, stdout, stderr, timedOut } = await runBounded('sh', ['-c', `${RAISE_NOFILE} && exec "$0" "$@"`, binary, ...args], { timeoutMs: (seconds + 60) * 1000 });
    cpu = cpuDelta(before, sampleGroupCpu(started.handle.pgid));
    rssKiB = peakGroupRssKiB(started.handle.pgid);
    if (timedOut || code !== 0) throw new Error(`slowread failed (${timedOut ? 'timed out' : `exit ${code}`}): ${stderr.trim() || stdout.trim()}`);
    result = JSON.parse(stdout.trim().split('\n').pop());
  } catch (err) {
    await started.handle.stop();
    return { ...base, outcome: 'failed', reason: err.message };
  }
  await started.handle.stop();
  return { ...base, outcome: 'ok', bytes: result.bytes, seconds: result.seconds, errors: result.errors, ...cpu, rssKiB, loopDelay: readLoopDelay(started) };
}

/** `--workers` counts to sweep: 1 up to the machine's cores. */
export function workerCounts() {
  return Array.from({ length: Math.max(1, cpus().length) }, (_, i) => i + 1);
}

export { formatSize };
