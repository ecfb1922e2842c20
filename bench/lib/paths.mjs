// Directory layout, derived from this file's location so that no absolute
// path of the machine that ran a benchmark ends up in code or reports.

import { mkdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ */
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
/** The repository root (bench/..). */
export const REPO_DIR = join(BENCH_DIR, '..');
/** Scratch space: fixtures, compiled C clients, generated configs (gitignored). */
export const WORK_DIR = join(BENCH_DIR, '.work');
/** Committed Markdown reports and SVG charts. */
export const RESULTS_DIR = join(BENCH_DIR, 'results');
/**
 * The project's CLI entry point; it may not exist yet. BENCH_ZEROCOPY_CLI
 * points the benchmarks at another build (e.g. a checkout being compared).
 */
export const PROJECT_CLI = process.env.BENCH_ZEROCOPY_CLI ? resolve(process.env.BENCH_ZEROCOPY_CLI) : join(REPO_DIR, 'bin', 'zerocopy.js');

/** A path for display, relative to the repository root. */
export function displayPath(path) {
  return relative(REPO_DIR, path) || '.';
}

let runDir = null;

/**
 * bench/.work/run-<pid>/: generated configs and scratch files of this
 * harness process only, so two harnesses running at once (engineers share
 * the machine) never rewrite each other's nginx or HAProxy config. Removed
 * when the process exits.
 */
export function harnessRunDir() {
  if (!runDir) {
    runDir = join(WORK_DIR, `run-${process.pid}`);
    mkdirSync(runDir, { recursive: true });
    process.once('exit', () => rmSync(runDir, { recursive: true, force: true }));
  }
  return runDir;
}
