// The machine's other load during a benchmark: a figure from a 2-core box
// means little if something else was busy beside it. Whole-machine busy time
// comes from /proc/stat; what this harness and everything it started used
// comes from its own /proc/self/stat (children it spawned and reaped are in
// cutime/cstime). The difference is the load of everyone else.

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { CLOCK_TICKS_PER_SECOND, listGroup, readStat } from './proc.mjs';

/** More than this many cores busy with other work makes the run's figures noise. */
export const HEAVY_OTHER_LOAD_CORES = 0.25;

function machineTicks() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (proc(5)); guest time is inside user.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

/**
 * Seconds of CPU the whole machine spent busy so far (all processes, the
 * kernel's softirq work included). Over a timed load this is the cost of
 * the transfer wherever the kernel charged it: on loopback the receive
 * path often runs in the sender's context, sometimes in the client's.
 */
export function machineBusySeconds() {
  return machineTicks().busy / CLOCK_TICKS_PER_SECOND;
}

/** CPU ticks of this harness and of every process it started (reaped or still in their groups). */
function ownTicks(liveGroups) {
  const self = readStat(process.pid);
  let ticks = self.utime + self.stime + self.cutime + self.cstime;
  for (const pgid of liveGroups()) for (const member of listGroup(pgid)) ticks += member.utime + member.stime;
  return ticks;
}

/**
 * Starts watching. `liveGroups()` returns the process groups the harness has
 * running right now (their CPU is not yet in cutime). stop() resolves
 *   { seconds, cores, machineBusyCores, ownCores, otherCores, heavy }
 */
export function startLoadMonitor(liveGroups = () => []) {
  const startedAt = process.hrtime.bigint();
  const machineBefore = machineTicks();
  const ownBefore = ownTicks(liveGroups);
  return {
    stop() {
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const machineAfter = machineTicks();
      const ownAfter = ownTicks(liveGroups);
      const perSecond = (ticks) => ticks / CLOCK_TICKS_PER_SECOND / seconds;
      const machineBusyCores = perSecond(machineAfter.busy - machineBefore.busy);
      const ownCores = perSecond(ownAfter - ownBefore);
      const otherCores = Math.max(0, machineBusyCores - ownCores);
      return { seconds, cores: cpus().length, machineBusyCores, ownCores, otherCores, heavy: otherCores > HEAVY_OTHER_LOAD_CORES };
    },
  };
}

/** The environment fact for a report: ['Other load during the run', '0.03 of 2 cores …']. */
export function loadFact(load) {
  const f = (n) => n.toFixed(2);
  return ['Other load during the run', `${f(load.otherCores)} of ${load.cores} cores busy with other work on average (machine ${f(load.machineBusyCores)}, this benchmark ${f(load.ownCores)}, over ${Math.round(load.seconds)} s)`];
}

/** The first line a report must carry when the run was not alone on the machine, or null. */
export function heavyLoadWarning(load) {
  if (!load?.heavy) return null;
  return `> **Heavy other load during this run: ${load.otherCores.toFixed(2)} of ${load.cores} cores were busy with other work on average. Treat these figures as noise; rerun on a quiet machine.**`;
}
