// Process accounting and lifecycle for benchmark servers.
//
// Every server under test is spawned in its own process group (detached: true
// makes the child a group leader, so pgid === pid). That lets us account for
// and stop exactly the processes we started, including children the server
// forks for itself (socat's per-connection fork, node:cluster workers), and
// nothing else on this shared machine.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Clock ticks per second used by /proc/PID/stat time fields (proc(5): "measured in clock ticks (divide by sysconf(_SC_CLK_TCK))"). */
export const CLOCK_TICKS_PER_SECOND = readClockTicks();

function readClockTicks() {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // getconf missing: fall through to the Linux default.
  }
  return 100;
}

/**
 * Parses /proc/PID/stat. Returns null when the process is gone.
 * Field numbers follow proc(5); comm (field 2) may contain spaces and ')' so
 * we split after the LAST ')'.
 */
export function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  return {
    pid,
    state: rest[0],
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    utime: Number(rest[11]), // field 14
    stime: Number(rest[12]), // field 15
    cutime: Number(rest[13]), // field 16: children this process has waited for
    cstime: Number(rest[14]), // field 17
  };
}

/** All live (or zombie) processes whose process group is `pgid`. */
export function listGroup(pgid) {
  const members = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.pgrp === pgid) members.push(stat);
  }
  return members;
}

/**
 * CPU time used so far by a process group, in seconds, user and sys apart.
 *
 * Sums utime+cutime and stime+cstime over every member. A child that has
 * exited and been reaped by its parent (socat's fork-per-connection) moves
 * into the parent's cutime/cstime, so it is still counted. Threads need no
 * special care: /proc/PID/stat of the thread-group leader covers all threads.
 * Take samples while the group is quiescent (see waitForGroupSize) to avoid
 * the race where a child is reaped between two reads.
 */
export function sampleGroupCpu(pgid) {
  let userTicks = 0;
  let sysTicks = 0;
  const members = listGroup(pgid);
  for (const stat of members) {
    userTicks += stat.utime + stat.cutime;
    sysTicks += stat.stime + stat.cstime;
  }
  return {
    userSeconds: userTicks / CLOCK_TICKS_PER_SECOND,
    sysSeconds: sysTicks / CLOCK_TICKS_PER_SECOND,
    processes: members.length,
  };
}

/** Difference of two sampleGroupCpu() results. */
export function cpuDelta(before, after) {
  return {
    userSeconds: after.userSeconds - before.userSeconds,
    sysSeconds: after.sysSeconds - before.sysSeconds,
  };
}

/**
 * Peak resident set size of a process group in KiB: the sum of VmHWM
 * ("peak resident set size", proc(5)) over live members. VmHWM is a
 * lifetime peak, which is why each measured run uses a fresh server process.
 */
export function peakGroupRssKiB(pgid) {
  let total = 0;
  for (const { pid } of listGroup(pgid)) {
    try {
      const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch {
      // Exited between listing and reading: its memory is gone anyway.
    }
  }
  return total;
}

/**
 * Waits until the group has at most `size` members (e.g. socat's connection
 * child has exited and been reaped), polling every 20 ms, for at most
 * `timeoutMs`. Returns whether the size was reached.
 */
export async function waitForGroupSize(pgid, size, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (listGroup(pgid).filter((s) => s.state !== 'Z').length <= size) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

// Socket inodes in LISTEN state (st == 0A, include/net/tcp_states.h) on `port`,
// from /proc/net/tcp and tcp6. Reading these sends no traffic to the server,
// so readiness checks never create a connection (which would fork a socat
// child or reach a proxy's upstream).
function listeningInodes(port) {
  const inodes = new Set();
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      if (cols[1].endsWith(`:${portHex}`) && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  return inodes;
}

function groupOwnsInode(pgid, inodes) {
  for (const { pid } of listGroup(pgid)) {
    let fds;
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match && inodes.has(match[1])) return true;
      } catch {
        // fd closed while we looked.
      }
    }
  }
  return false;
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read
 * the port, close). startServer() checks that the listener it finds is ours,
 * so losing the race is detected, not silently measured.
 */
export function findFreePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const startedGroups = new Set();

/** Process groups this harness started and has not stopped yet. */
export function liveGroups() {
  return [...startedGroups];
}

/**
 * Spawns `command args` as the leader of a new process group and waits until
 * a process of that group has a socket listening on `port` (a listening TCP
 * socket accepts connections: the kernel completes the handshake).
 *
 * Resolves a handle { pid, pgid, name, output(), exitInfo(), stop() }.
 * Rejects with err.code = 'BENCH_NOT_STARTED' when the process exits or does
 * not listen within `timeoutMs`; the message quotes its most telling output line.
 * The caller owns the handle and must call stop().
 */
export async function startServer({ name, command, args, cwd, env, port, timeoutMs = 15000 }) {
  const child = spawn(command, args, {
    cwd,
    env: env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = trackChild(name, child);
  const spawnError = new Promise((resolve) => child.once('error', resolve));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = await Promise.race([spawnError, sleep(25, null)]);
    if (failure) throw notStarted(`cannot spawn ${command}: ${failure.message}`, handle);
    if (handle.exitInfo()) {
      const { code, signal } = handle.exitInfo();
      throw notStarted(`exited (${signal ?? `code ${code}`}) before listening`, handle);
    }
    const inodes = listeningInodes(port);
    if (inodes.size > 0) {
      if (groupOwnsInode(handle.pgid, inodes)) return handle;
      await handle.stop();
      throw notStarted(`port ${port} was taken by another process`, handle);
    }
    if (Date.now() >= deadline) {
      await handle.stop();
      throw notStarted(`not listening on 127.0.0.1:${port} after ${timeoutMs} ms`, handle);
    }
  }
}

/**
 * Spawns a short-lived helper (load generator, C client) in its own process
 * group, collects stdout, and kills the group if it outlives `timeoutMs`.
 * Resolves { code, signal, stdout, stderr, timedOut }.
 */
export function runBounded(command, args, { timeoutMs, cwd, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) startedGroups.add(child.pid);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-8192);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      startedGroups.delete(child.pid);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      // The leader has exited; make sure nothing it left behind survives.
      killGroup(child.pid, 'SIGKILL');
      startedGroups.delete(child.pid);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function trackChild(name, child) {
  const pgid = child.pid;
  if (pgid) startedGroups.add(pgid);
  let output = '';
  let exit = null;
  const keepTail = (chunk) => {
    output = (output + chunk).slice(-4096);
  };
  // Complete stdout lines not yet taken by nextLine(), and waiting takers.
  const lines = [];
  const takers = [];
  let partialLine = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    keepTail(chunk);
    partialLine += chunk;
    let newline;
    while ((newline = partialLine.indexOf('\n')) >= 0) {
      lines.push(partialLine.slice(0, newline));
      partialLine = partialLine.slice(newline + 1);
    }
    while (lines.length > 0 && takers.length > 0) takers.shift()(lines.shift());
  });
  child.stderr.setEncoding('utf8').on('data', keepTail);
  const closed = new Promise((resolve) => child.once('close', resolve));
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    child.once('error', () => {
      exit = exit ?? { code: null, signal: null };
      resolve();
    });
  });
  return {
    name,
    pid: child.pid,
    pgid,
    output: () => output,
    exitInfo: () => exit,
    /** The next stdout line; rejects after `timeoutMs` or when the process exits first. */
    nextLine(timeoutMs) {
      if (lines.length > 0) return Promise.resolve(lines.shift());
      return new Promise((resolve, reject) => {
        const fail = (why) => {
          const index = takers.indexOf(take);
          if (index >= 0) takers.splice(index, 1);
          clearTimeout(timer);
          reject(new Error(`${name}: ${why}; output: ${output.trim().slice(-500)}`));
        };
        const take = (line) => {
          clearTimeout(timer);
          resolve(line);
        };
        const timer = setTimeout(() => fail(`no output line within ${timeoutMs} ms`), timeoutMs);
        takers.push(take);
        // 'close' (not 'exit'): stdout has been read to its end by then.
        closed.then(() => takers.includes(take) && fail('exited'));
      });
    },
    /** SIGTERM the group, SIGKILL whatever is left after `graceMs`. */
    async stop(graceMs = 3000) {
      if (pgid === undefined) return;
      if (!exit) {
        killGroup(pgid, 'SIGTERM');
        await Promise.race([exited, sleep(graceMs)]);
      }
      // Children (socat forks, cluster workers) may outlive the leader.
      if (listGroup(pgid).length > 0) {
        killGroup(pgid, 'SIGKILL');
        await Promise.race([exited, sleep(graceMs)]);
      }
      startedGroups.delete(pgid);
    },
  };
}

function notStarted(reason, handle) {
  // The most telling line of what the process printed: an error or usage
  // message if there is one (Node puts "Error: …" below the source excerpt
  // of an uncaught exception), else its first line.
  const lines = handle.output().split('\n').map((line) => line.trim()).filter(Boolean);
  const telling = lines.find((line) => /\b(error|unknown|invalid|cannot|failed|usage)\b/i.test(line)) ?? lines[0];
  const err = new Error(`${reason}${telling ? `: ${telling.slice(0, 200)}` : ''}`);
  err.code = 'BENCH_NOT_STARTED';
  err.reason = reason;
  return err;
}

function killGroup(pgid, signal) {
  if (!pgid) return; // spawn failed: there is no group to signal
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (err.code !== 'ESRCH') throw err;
  }
}

// Leave nothing running if the harness itself dies or is interrupted: only
// groups this process created are signalled.
function killAllStarted() {
  for (const pgid of startedGroups) killGroup(pgid, 'SIGKILL');
  startedGroups.clear();
}
process.once('exit', killAllStarted);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAllStarted();
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[signal]);
  });
}
