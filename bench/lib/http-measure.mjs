// One measured run of one static-file server on one fixture size: start a
// fresh server process, check it serves the right bytes, warm it up, then
// time a bounded load while sampling the server's CPU time and peak RSS.
// Also the separate strace pass that counts the server's syscalls.

import { runBigread } from './bigread.mjs';
import { FIXTURE_DIR } from './fixtures.mjs';
import { machineBusySeconds } from './load.mjs';
import { cpuDelta, findFreePort, peakGroupRssKiB, sampleGroupCpu, startServer } from './proc.mjs';
import { countSyscalls } from './syscalls.mjs';
import { verifyHttpBody } from './verify-http.mjs';
import { runWrk } from './wrk.mjs';

/**
 * Files up to this size are driven by wrk and judged by req/s; larger ones
 * by bigread and judged by GB/s (wrk reads 8 KiB per read() and caps near
 * 1.5 GB/s here, issue 3).
 */
export const WRK_MAX_BYTES = 1 << 20;

/** Starts `server` over the fixtures on a free port: { port, handle }, or { reason } when it cannot start. */
async function startFixtureServer(server, settings) {
  const port = await findFreePort();
  try {
    const handle = await startServer({ name: server.label, port, ...server.command({ root: FIXTURE_DIR, port, zerocopyArgs: settings.zerocopyArgs }) });
    return { port, handle };
  } catch (err) {
    if (err.code !== 'BENCH_NOT_STARTED') throw err;
    return { reason: err.message };
  }
}

/**
 * Measures `server` serving `fixture`. `settings` holds the load parameters
 * (see http.mjs); `verify` runs the sha256 gate first. Resolves a record:
 *   { server, bytesPerFile, run, outcome: 'ok' | 'not-started' | 'failed', reason?,
 *     tool, requests, bytes, seconds, errors, userSeconds, sysSeconds,
 *     machineSeconds (whole machine, client and kernel included), rssKiB,
 *     latencyP50Ms, latencyP99Ms }
 * Only 'ok' records carry numbers. The server is always stopped before this resolves.
 */
export async function measureHttpRun({ server, fixture, run, settings, verify }) {
  const base = { server: server.id, bytesPerFile: fixture.bytes, run };
  const started = await startFixtureServer(server, settings);
  if (started.reason) return { ...base, outcome: 'not-started', reason: started.reason };
  const { port, handle } = started;
  try {
    if (verify) {
      const problem = await verifyHttpBody({ port, fixture });
      if (problem) return { ...base, outcome: 'failed', reason: `wrong response: ${problem}` };
    }
    const useWrk = fixture.bytes <= WRK_MAX_BYTES;
    const url = `http://127.0.0.1:${port}${fixture.urlPath}`;
    // Warm-up: JIT, the server's caches, TCP buffers. Not measured.
    if (useWrk) {
      await runWrk({ url, threads: settings.wrkThreads, connections: settings.wrkConnections, seconds: settings.warmupSeconds });
    } else {
      await runBigread({ port, path: fixture.urlPath, connections: settings.bigConnections, recvBufferBytes: settings.bigRecvBufferBytes, seconds: settings.warmupSeconds, maxRequests: 4 });
    }

    const before = sampleGroupCpu(handle.pgid);
    const machineBefore = machineBusySeconds();
    const load = useWrk
      ? await runWrk({ url, threads: settings.wrkThreads, connections: settings.wrkConnections, seconds: settings.wrkSeconds })
      : await runBigread({ port, path: fixture.urlPath, connections: settings.bigConnections, recvBufferBytes: settings.bigRecvBufferBytes, seconds: settings.bigSeconds, maxRequests: settings.bigMaxRequests });
    const after = sampleGroupCpu(handle.pgid);
    const machineSeconds = machineBusySeconds() - machineBefore;
    const rssKiB = peakGroupRssKiB(handle.pgid);
    if (handle.exitInfo()) return { ...base, outcome: 'failed', reason: 'server exited during the run' };
    if (load.requests === 0) return { ...base, outcome: 'failed', reason: `no successful request (${load.firstError ?? `${load.errors} errors`})` };

    const { userSeconds, sysSeconds } = cpuDelta(before, after);
    return {
      ...base,
      outcome: 'ok',
      tool: useWrk ? 'wrk' : 'bigread',
      requests: load.requests,
      // wrk reports header+body bytes; count body bytes for both tools so
      // GB/s and CPU per GB mean the same thing in every row.
      bytes: useWrk ? load.requests * fixture.bytes : load.bytes,
      seconds: load.seconds,
      errors: load.errors,
      firstError: load.firstError ?? null,
      userSeconds,
      sysSeconds,
      machineSeconds,
      rssKiB,
      latencyP50Ms: load.latencyMs?.p50 ?? null,
      latencyP99Ms: load.latencyMs?.p99 ?? null,
    };
  } catch (err) {
    return { ...base, outcome: 'failed', reason: err.message };
  } finally {
    await handle.stop();
  }
}

/**
 * A separate, untimed pass under strace: starts `server`, warms it up, and
 * counts its syscalls during a short load (wrk for `seconds`, or one bigread
 * request). Resolves { server, bytesPerFile, outcome, reason?, requests, syscalls }.
 */
export async function traceHttpSyscalls({ server, fixture, settings, seconds = 2 }) {
  const base = { server: server.id, bytesPerFile: fixture.bytes };
  const started = await startFixtureServer(server, settings);
  if (started.reason) return { ...base, outcome: 'not-started', reason: started.reason };
  const { port, handle } = started;
  try {
    const useWrk = fixture.bytes <= WRK_MAX_BYTES;
    const url = `http://127.0.0.1:${port}${fixture.urlPath}`;
    const load = () =>
      useWrk
        ? runWrk({ url, threads: settings.wrkThreads, connections: settings.wrkConnections, seconds })
        : runBigread({ port, path: fixture.urlPath, connections: settings.bigConnections, recvBufferBytes: settings.bigRecvBufferBytes, seconds: 60, maxRequests: 1 });
    await load(); // warm-up, so start-up work is not counted
    let result;
    const syscalls = await countSyscalls(handle.pgid, async () => {
      result = await load();
    });
    if (!result.requests) return { ...base, outcome: 'failed', reason: 'no successful request under strace' };
    return { ...base, outcome: 'ok', requests: result.requests, syscalls };
  } catch (err) {
    return { ...base, outcome: 'failed', reason: err.message };
  } finally {
    await handle.stop();
  }
}
