// Syscall counts of a server under load, from `strace -f -c` attached to it:
// the proof of which path moved the bytes (sendfile/splice vs read+write).
// strace slows the traced process a lot, so this runs as a separate pass and
// none of its timings are reported.

import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand } from './environment.mjs';
import { harnessRunDir } from './paths.mjs';
import { listGroup } from './proc.mjs';

export const canCountSyscalls = () => hasCommand('strace');

/**
 * Attaches `strace -f -c` to every live process of group `pgid` (-f also
 * covers all their threads and any child forked later, e.g. socat's
 * per-connection process), runs `load()`, detaches, and resolves
 * [{ syscall, calls, errors }] sorted by calls, most first.
 */
export async function countSyscalls(pgid, load) {
  const output = join(harnessRunDir(), `strace-${pgid}.txt`);
  const pids = listGroup(pgid).filter((s) => s.state !== 'Z').map((s) => s.pid);
  const args = ['-f', '-c', '-o', output, ...pids.flatMap((pid) => ['-p', String(pid)])];
  const tracer = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const closed = new Promise((resolve) => tracer.once('close', resolve));
  try {
    // strace reports "Process N attached" on stderr once per traced thread.
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('strace did not attach within 5 s')), 5000);
      tracer.stderr.setEncoding('utf8').on('data', (chunk) => {
        if (chunk.includes('attached')) {
          clearTimeout(timer);
          resolve();
        }
      });
      tracer.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      tracer.once('close', () => {
        clearTimeout(timer);
        reject(new Error('strace exited before attaching'));
      });
    });
    await load();
  } finally {
    // SIGINT makes strace detach cleanly and write its summary.
    tracer.kill('SIGINT');
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (tracer.exitCode === null && tracer.signalCode === null) tracer.kill('SIGKILL');
  }
  const summary = parseStraceSummary(readFileSync(output, 'utf8'));
  rmSync(output, { force: true });
  return summary;
}

/**
 * Parses strace -c output:
 *
 *   % time     seconds  usecs/call     calls    errors syscall
 *   ------ ----------- ----------- --------- --------- ----------------
 *    38.34    0.628871          21     29791           sendto
 *    26.35    0.432156          14     29793         1 recvfrom
 *   ------ ----------- ----------- --------- --------- ----------------
 *   100.00    1.640335          18     90164         3 total
 */
export function parseStraceSummary(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5 || !/^[\d.]+$/.test(cols[0])) continue;
    const syscall = cols[cols.length - 1];
    if (syscall === 'total') continue;
    rows.push({ syscall, calls: Number(cols[3]), errors: cols.length >= 6 ? Number(cols[4]) : 0 });
  }
  return rows.sort((a, b) => b.calls - a.calls);
}

/** 'sendfile 2.1, epoll_wait 1.3, …' for the `top` most frequent calls, each divided by `per`. */
export function formatSyscalls(rows, per, top = 6) {
  return rows.slice(0, top).map((r) => `${r.syscall} ${Number((r.calls / per).toPrecision(3))}`).join(', ');
}
