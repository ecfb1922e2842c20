// Runs the bigread C client (big files: reads 1 MiB per recv, see
// clients/bigread.c for why wrk is not used there).

import { compileClient } from './compile.mjs';
import { runBounded } from './proc.mjs';

/**
 * Fetches http://127.0.0.1:PORT/PATH over `connections` keep-alive
 * connections for `seconds` or `maxRequests` requests, whichever ends first.
 * Resolves { requests, bytes, seconds, errors, firstError }.
 */
export async function runBigread({ port, path, connections, seconds, maxRequests, recvBufferBytes = 1 << 20 }) {
  const binary = compileClient('bigread');
  const args = ['-a', '127.0.0.1', '-p', String(port), '-u', path, '-c', String(connections), '-d', String(seconds), '-n', String(maxRequests), '-b', String(recvBufferBytes), '-t', '30'];
  // A request that starts just before the deadline may still run to its end,
  // and a stalled one is cut by bigread's own 30 s socket timeout.
  const { code, stdout, stderr, timedOut } = await runBounded(binary, args, { timeoutMs: (seconds + 90) * 1000 });
  if (timedOut || code !== 0) throw new Error(`bigread failed (${timedOut ? 'timed out' : `exit ${code}`}): ${stderr.trim()}`);
  const result = JSON.parse(stdout.trim().split('\n').pop());
  return { requests: result.requests, bytes: result.bytes, seconds: result.seconds, errors: result.errors, firstError: result.first_error || null };
}
