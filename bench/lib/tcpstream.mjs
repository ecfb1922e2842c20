// Drives clients/tcpstream.c: a sink that counts bytes to EOF and a source
// that pushes a fixed number of bytes, for the proxy benchmark.

import { compileClient } from './compile.mjs';
import { findFreePort, runBounded, startServer } from './proc.mjs';

/**
 * Starts a sink on a free 127.0.0.1 port that exits after `connections`
 * non-empty connections; with `verifyFirst` the first one is checked
 * byte-for-byte. Resolves { port, handle, nextReceived(timeoutMs) }, where
 * nextReceived resolves the sink's {"event":"received"} record. The caller
 * stops `handle`.
 */
export async function startSink({ connections, verifyFirst, timeoutSeconds = 60 }) {
  const binary = compileClient('tcpstream');
  const port = await findFreePort();
  const handle = await startServer({
    name: 'tcpstream sink',
    command: binary,
    args: ['sink', '-p', String(port), '-n', String(connections), '-v', verifyFirst ? '1' : '0', '-t', String(timeoutSeconds)],
    port,
  });
  const listening = JSON.parse(await handle.nextLine(5000));
  if (listening.event !== 'listening' || listening.port !== port) throw new Error(`unexpected sink output ${JSON.stringify(listening)}`);
  return {
    port,
    handle,
    async nextReceived(timeoutMs) {
      const record = JSON.parse(await handle.nextLine(timeoutMs));
      return { ...record, acceptNs: BigInt(record.accept_ns), eofNs: BigInt(record.eof_ns) };
    },
  };
}

/**
 * Sends `bytes` to 127.0.0.1:port and waits for the far end to close.
 * Resolves { bytes, startNs, eofNs, bytesReturned }; rejects on failure or
 * after `timeoutMs`.
 */
export async function runSource({ port, bytes, timeoutMs }) {
  const binary = compileClient('tcpstream');
  const args = ['source', '-p', String(port), '-s', String(bytes), '-t', '60'];
  const { code, stdout, stderr, timedOut } = await runBounded(binary, args, { timeoutMs });
  if (timedOut || code !== 0) throw new Error(`tcpstream source failed (${timedOut ? 'timed out' : `exit ${code}`}): ${stderr.trim()}`);
  const record = JSON.parse(stdout.trim().split('\n').pop());
  return { bytes: record.bytes, startNs: BigInt(record.start_ns), eofNs: BigInt(record.eof_ns), bytesReturned: record.bytes_returned };
}
