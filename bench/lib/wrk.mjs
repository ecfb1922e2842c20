// Runs wrk (small files: it is request-bound there, not byte-bound) and
// parses its text report into numbers.

import { runBounded } from './proc.mjs';

/**
 * wrk -t THREADS -c CONNECTIONS -d SECONDS --latency URL.
 * Resolves { requests, seconds, errors, errorKinds, latencyMs: { p50, p99 } };
 * "errors" adds socket errors and non-2xx/3xx responses, errorKinds keeps
 * them apart ({ connect, read, write, timeout, status }): a timeout is the
 * client giving up on a slow server, a read error a connection that closed. Rejects if wrk fails or its
 * output cannot be parsed. The run is killed if it overruns by 30 s.
 */
export async function runWrk({ url, threads, connections, seconds }) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '--latency', url];
  const { code, stdout, stderr, timedOut } = await runBounded('wrk', args, { timeoutMs: (seconds + 30) * 1000 });
  if (timedOut || code !== 0) throw new Error(`wrk failed (${timedOut ? 'timed out' : `exit ${code}`}): ${stderr.trim() || stdout.trim()}`);
  return parseWrkReport(stdout);
}

/**
 * Parses wrk 4.x output, e.g.
 *
 *     Latency Distribution
 *        50%    1.10ms
 *        99%    4.52ms
 *     286913 requests in 10.00s, 1.19GB read
 *     Socket errors: connect 0, read 0, write 0, timeout 12
 *     Non-2xx or 3xx responses: 3
 *   Requests/sec:  28688.41
 */
export function parseWrkReport(text) {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(text);
  if (!total) throw new Error(`cannot parse wrk output:\n${text}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const [connect, read, write, timeout] = socketErrors ? socketErrors.slice(1).map(Number) : [0, 0, 0, 0];
  const errorKinds = { connect, read, write, timeout, status: non2xx ? Number(non2xx[1]) : 0 };
  const errors = Object.values(errorKinds).reduce((sum, n) => sum + n, 0);
  return {
    requests: Number(total[1]),
    seconds: toSeconds(Number(total[2]), total[3]),
    errors,
    errorKinds,
    latencyMs: { p50: percentileMs(text, '50'), p99: percentileMs(text, '99') },
  };
}

function percentileMs(text, percent) {
  const match = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  return match ? toSeconds(Number(match[1]), match[2]) * 1000 : null;
}

function toSeconds(value, unit) {
  return value * { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[unit];
}
