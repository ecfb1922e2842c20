// Builds the C programs (bench/clients/*.c, and the reference server
// bench/peers/sendfile-floor.c) and the Go peer into bench/.work/bin/ at bench time.
// Binaries are never committed; they are rebuilt when the source is newer.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, WORK_DIR } from './paths.mjs';

const BIN_DIR = join(WORK_DIR, 'bin');

/** Compiles bench/clients/<name>.c with `cc -O2` if needed; returns the binary's path. */
export function compileClient(name) {
  return compileProgram(join(BENCH_DIR, 'clients', `${name}.c`), name);
}

/** Compiles one C file into bench/.work/bin/<name> if needed; returns the binary's path. */
export function compileProgram(source, name) {
  const binary = join(BIN_DIR, name);
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(BIN_DIR, { recursive: true });
  const cc = process.env.CC || 'cc';
  // Build under a private name and rename: another harness may be running
  // the old binary or compiling the same one right now.
  const partial = `${binary}.${process.pid}.partial`;
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-pthread', '-o', partial, source], { stdio: 'inherit' });
  renameSync(partial, binary);
  return binary;
}

/**
 * Builds a Go peer (bench/peers/<dir>/*.go, standard library only) into
 * bench/.work/bin/<name> with the machine's Go toolchain if needed; returns
 * the binary's path. Offline: no module downloads are involved.
 */
export function compileGo(dir, name) {
  const sourceDir = join(BENCH_DIR, 'peers', dir);
  const binary = join(BIN_DIR, name);
  const newest = Math.max(...readdirSync(sourceDir).filter((f) => f.endsWith('.go')).map((f) => statSync(join(sourceDir, f)).mtimeMs));
  if (existsSync(binary) && statSync(binary).mtimeMs >= newest) return binary;
  mkdirSync(BIN_DIR, { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  execFileSync('go', ['build', '-o', partial, '.'], { cwd: sourceDir, stdio: 'inherit', env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '' } });
  renameSync(partial, binary);
  return binary;
}
