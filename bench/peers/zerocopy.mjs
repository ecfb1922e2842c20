// The project's own commands, launched exactly as a user would run them:
//   node bin/zerocopy.js serve DIR --port P --host 127.0.0.1
//   node bin/zerocopy.js proxy --listen 127.0.0.1:P --to 127.0.0.1:Q
// Extra flags (e.g. --workers 2) come from BENCH_ZEROCOPY_ARGS or the
// entry points' --zerocopy-args option.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_CLI, REPO_DIR, displayPath } from '../lib/paths.mjs';

/** Why the project's CLI cannot be run, or null if it can be tried. */
export function projectUnavailableReason() {
  return existsSync(PROJECT_CLI) ? null : `${displayPath(PROJECT_CLI)} does not exist yet`;
}

/**
 * An environment fact for the reports: which CLI ran and when its compiled
 * code (dist/, which bin/zerocopy.js imports) was last built.
 */
export function projectBuildFact() {
  if (!existsSync(PROJECT_CLI)) return ['zerocopy CLI', `${displayPath(PROJECT_CLI)} not present`];
  const dist = join(REPO_DIR, 'dist', 'src', 'cli', 'index.js');
  const built = existsSync(dist) ? `dist built ${statSync(dist).mtime.toISOString()}` : 'dist/ not built';
  return ['zerocopy CLI', `${displayPath(PROJECT_CLI)}, ${built}`];
}

/** `zerocopy serve` on 127.0.0.1:`port`. */
export function zerocopyServeCommand({ root, port, extraArgs = [] }) {
  return { command: process.execPath, args: [PROJECT_CLI, 'serve', root, '--port', String(port), '--host', '127.0.0.1', ...extraArgs], cwd: REPO_DIR };
}

/** `zerocopy proxy` from 127.0.0.1:`listenPort` to 127.0.0.1:`upstreamPort`. */
export function zerocopyProxyCommand({ listenPort, upstreamPort, extraArgs = [] }) {
  return { command: process.execPath, args: [PROJECT_CLI, 'proxy', '--listen', `127.0.0.1:${listenPort}`, '--to', `127.0.0.1:${upstreamPort}`, ...extraArgs], cwd: REPO_DIR };
}

/** Splits 'a "b c" d' into ['a', 'b c', 'd'] for BENCH_ZEROCOPY_ARGS. */
export function splitArgs(text) {
  return [...String(text ?? '').matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}
