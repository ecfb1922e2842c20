// What a benchmark ran on, printed at the top of every report: numbers from
// a 2-core shared VM mean little without the machine and versions beside them.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, REPO_DIR } from './paths.mjs';

/**
 * The first line of a command's output (stdout, else stderr) that contains a
 * version-like number (socat -V puts its version on line 2), else the first
 * line; null if the command cannot run.
 */
export function commandVersion(command, args) {
  // nginx -v and gcc-style tools differ on which stream they use, and some
  // exit non-zero after printing their version: take whichever has text.
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
  if (result.error) return null;
  const text = (result.stdout.trim() || result.stderr.trim());
  if (!text) return null;
  const lines = text.split('\n').map((line) => line.trim());
  return lines.find((line) => /\d+\.\d+/.test(line)) ?? lines[0];
}

function cpuModel() {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1].trim();
  } catch {
    // Not Linux: fall back to what os.cpus() knows.
  }
  return cpus()[0]?.model ?? 'unknown';
}

function packageVersion(name) {
  const file = join(BENCH_DIR, 'node_modules', name, 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : 'not installed';
}

// The commit alone does not say what ran: bin/zerocopy.js runs dist/, built
// from whatever the working tree held at build time.
function gitCommit() {
  const commit = commandVersion('git', ['-C', REPO_DIR, 'rev-parse', '--short', 'HEAD']);
  if (!commit || !/^[0-9a-f]+$/.test(commit)) return 'none (no commit yet)';
  const status = spawnSync('git', ['-C', REPO_DIR, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
  return status.stdout?.trim() ? `${commit} (with uncommitted changes)` : commit;
}

/**
 * Environment facts as [label, value] pairs. `tools` lists the external
 * programs whose versions matter to this benchmark: [[label, command, args]].
 */
export function describeEnvironment(tools = []) {
  const facts = [
    ['Date', new Date().toISOString()],
    ['Node', `${process.versions.node} (V8 ${process.versions.v8}, libuv ${process.versions.uv})`],
    ['Kernel', commandVersion('uname', ['-r']) ?? 'unknown'],
    ['CPU', `${cpuModel()}, ${cpus().length} logical CPUs`],
    ['Memory', `${Math.round(totalmem() / 2 ** 30)} GiB`],
    ['Repository commit', gitCommit()],
  ];
  for (const [label, command, args] of tools) facts.push([label, commandVersion(command, args) ?? 'not installed']);
  return facts;
}

/** Versions of the npm peers installed in bench/node_modules. */
export function peerPackageVersions(names) {
  return names.map((name) => `${name} ${packageVersion(name)}`).join(', ');
}

/** Whether `command` is an executable file somewhere on PATH. */
export function hasCommand(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(join(dir || '.', command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Whether an npm peer is installed in bench/node_modules (`cd bench && npm install`). */
export function hasPeerPackage(name) {
  return existsSync(join(BENCH_DIR, 'node_modules', name, 'package.json'));
}
