// One measured run of one TCP relay: a fresh sink, a fresh proxy in front of
// it (none for the direct baseline), a verified warm-up stream, then a timed
// multi-GB stream while sampling the proxy's CPU time. Also the separate
// strace pass that counts the relay's syscalls.

import { cpuDelta, findFreePort, listGroup, peakGroupRssKiB, sampleGroupCpu, startServer, waitForGroupSize } from './proc.mjs';
import { countSyscalls } from './syscalls.mjs';
import { runSource, startSink } from './tcpstream.mjs';

/**
 * Measures `proxy` relaying `bytes` after a `warmupBytes` stream whose
 * content the sink verifies. Resolves a record:
 *   { proxy, run, outcome: 'ok' | 'not-started' | 'failed', reason?,
 *     bytes, seconds, userSeconds, sysSeconds, rssKiB }
 * (CPU and RSS are null for the direct connection). Everything started here
 * is stopped before this resolves.
 */
export async function measureProxyRun({ proxy, run, bytes, warmupBytes, zerocopyArgs }) {
  const base = { proxy: proxy.id, run };
  // A generous bound for one stream: 60 s, or 20 MB/s for huge streams.
  const streamTimeoutMs = (bytes_) => Math.max(60000, (bytes_ / 20e6) * 1000);
  const sink = await startSink({ connections: 2, verifyFirst: true });
  let handle = null;
  try {
    let port = sink.port;
    if (proxy.command) {
      port = await findFreePort();
      try {
        handle = await startServer({ name: proxy.label, port, ...proxy.command({ listenPort: port, upstreamPort: sink.port, zerocopyArgs }) });
      } catch (err) {
        if (err.code !== 'BENCH_NOT_STARTED') throw err;
        return { ...base, outcome: 'not-started', reason: err.message };
      }
    }
    const idleProcesses = handle ? listGroup(handle.pgid).length : 0;

    // Warm-up, verified byte for byte by the sink: a relay that corrupts data
    // must not get a throughput number.
    await runSource({ port, bytes: warmupBytes, timeoutMs: streamTimeoutMs(warmupBytes) });
    const warm = await sink.nextReceived(10000);
    if (warm.bytes !== warmupBytes) return { ...base, outcome: 'failed', reason: `warm-up: sink got ${warm.bytes} of ${warmupBytes} bytes` };
    if (warm.verified !== true) return { ...base, outcome: 'failed', reason: 'warm-up: bytes differ from what was sent' };

    // socat forks per connection: wait for that child to be reaped so its
    // CPU time is in the parent's cutime before the first sample.
    if (handle) await waitForGroupSize(handle.pgid, idleProcesses);
    const before = handle ? sampleGroupCpu(handle.pgid) : null;
    const sent = await runSource({ port, bytes, timeoutMs: streamTimeoutMs(bytes) });
    const received = await sink.nextReceived(10000);
    if (handle && !(await waitForGroupSize(handle.pgid, idleProcesses))) {
      return { ...base, outcome: 'failed', reason: 'connection process did not exit after the stream' };
    }
    const after = handle ? sampleGroupCpu(handle.pgid) : null;
    const rssKiB = handle ? peakGroupRssKiB(handle.pgid) : null;
    if (received.bytes !== bytes || sent.bytes !== bytes) return { ...base, outcome: 'failed', reason: `sent ${sent.bytes}, sink got ${received.bytes} of ${bytes} bytes` };

    // From the source's connect() to the last byte at the sink: the same
    // system-wide CLOCK_MONOTONIC in both processes (clients/tcpstream.c).
    const seconds = Number(received.eofNs - sent.startNs) / 1e9;
    const cpu = handle ? cpuDelta(before, after) : { userSeconds: null, sysSeconds: null };
    return { ...base, outcome: 'ok', bytes, seconds, ...cpu, rssKiB };
  } catch (err) {
    return { ...base, outcome: 'failed', reason: err.message };
  } finally {
    if (handle) await handle.stop();
    await sink.handle.stop();
  }
}

/**
 * A separate, untimed pass under strace: counts the relay's syscalls while
 * it moves one `bytes` stream (after an unverified warm-up stream).
 * Resolves { proxy, outcome, reason?, bytes, syscalls }.
 */
export async function traceProxySyscalls({ proxy, bytes, zerocopyArgs }) {
  const base = { proxy: proxy.id };
  const sink = await startSink({ connections: 2, verifyFirst: false });
  let handle = null;
  try {
    const port = await findFreePort();
    try {
      handle = await startServer({ name: proxy.label, port, ...proxy.command({ listenPort: port, upstreamPort: sink.port, zerocopyArgs }) });
    } catch (err) {
      if (err.code !== 'BENCH_NOT_STARTED') throw err;
      return { ...base, outcome: 'not-started', reason: err.message };
    }
    const idleProcesses = listGroup(handle.pgid).length;
    const timeoutMs = Math.max(120000, (bytes / 5e6) * 1000); // strace slows the relay a lot
    await runSource({ port, bytes: 16 << 20, timeoutMs });
    await sink.nextReceived(10000);
    await waitForGroupSize(handle.pgid, idleProcesses);
    const syscalls = await countSyscalls(handle.pgid, async () => {
      await runSource({ port, bytes, timeoutMs });
      await sink.nextReceived(10000);
      await waitForGroupSize(handle.pgid, idleProcesses);
    });
    return { ...base, outcome: 'ok', bytes, syscalls };
  } catch (err) {
    return { ...base, outcome: 'failed', reason: err.message };
  } finally {
    if (handle) await handle.stop();
    await sink.handle.stop();
  }
}
