// The static-file servers compared by http.mjs, in report order. Each entry
// says how to launch it and, when it cannot run here, why.
//
// Entries with byDefault: false run only when named with --servers.

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { compileGo, compileProgram } from '../lib/compile.mjs';
import { hasCommand, hasPeerPackage } from '../lib/environment.mjs';
import { BENCH_DIR } from '../lib/paths.mjs';
import { nginxCommand } from './nginx.mjs';
import { projectUnavailableReason, zerocopyServeCommand } from './zerocopy.mjs';

/** Bun's binary from the npm package @oven/bun-linux-x64 (bench/package.json). */
export const BUN_BINARY = join(BENCH_DIR, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');

const nodePeer = (script, port, root) => ({ command: process.execPath, args: [join(BENCH_DIR, 'peers', script), root, '--port', String(port), '--host', '127.0.0.1'], cwd: BENCH_DIR });
const needsPackage = (name) => () => (hasPeerPackage(name) ? null : `npm peer ${name} is not installed (cd bench && npm install)`);
const needsCommand = (name) => () => (hasCommand(name) ? null : `${name} is not installed`);

export const HTTP_SERVERS = [
  {
    id: 'zerocopy',
    label: 'zerocopy serve',
    isProject: true,
    byDefault: true,
    unavailableReason: projectUnavailableReason,
    command: ({ root, port, zerocopyArgs }) => zerocopyServeCommand({ root, port, extraArgs: zerocopyArgs }),
  },
  {
    id: 'zerocopy-workers',
    label: 'zerocopy serve --workers 2',
    isProject: true,
    byDefault: false,
    unavailableReason: projectUnavailableReason,
    command: ({ root, port, zerocopyArgs }) => zerocopyServeCommand({ root, port, extraArgs: ['--workers', '2', ...zerocopyArgs] }),
  },
  {
    // Another build of the project beside this one, in the same run (a
    // before/after measurement): BENCH_BASELINE_CLI=/path/to/checkout/bin/zerocopy.js.
    id: 'zerocopy-baseline',
    label: 'zerocopy serve (baseline build)',
    isProject: true,
    byDefault: false,
    unavailableReason: () => (process.env.BENCH_BASELINE_CLI ? null : 'set BENCH_BASELINE_CLI to another checkout\'s bin/zerocopy.js'),
    command: ({ root, port, zerocopyArgs }) => ({ ...zerocopyServeCommand({ root, port, extraArgs: zerocopyArgs }), args: [process.env.BENCH_BASELINE_CLI, 'serve', root, '--port', String(port), '--host', '127.0.0.1', ...zerocopyArgs] }),
  },
  {
    id: 'nginx',
    label: 'nginx (sendfile on)',
    byDefault: true,
    unavailableReason: needsCommand('nginx'),
    command: ({ root, port, connections }) => nginxCommand({ root, port, sendfile: true, connections }),
  },
  {
    // Issue 3 reports nginx served 1.27x more 4 KiB req/s with sendfile off.
    id: 'nginx-nosendfile',
    label: 'nginx (sendfile off)',
    byDefault: false,
    unavailableReason: needsCommand('nginx'),
    command: ({ root, port }) => nginxCommand({ root, port, sendfile: false }),
  },
  {
    // Not a peer to beat but a reference: a blocking sendfile loop with no
    // server logic at all (sendfile-floor.c), close to the kernel's own price
    // per GB against the same client. nginx's event loop gets a little below
    // it; a Node server cannot be expected to.
    id: 'sendfile-floor',
    label: 'C sendfile loop (reference)',
    byDefault: true,
    unavailableReason: needsCommand(process.env.CC || 'cc'),
    command: ({ root, port }) => ({ command: compileProgram(join(BENCH_DIR, 'peers', 'sendfile-floor.c'), 'sendfile-floor'), args: [root, String(port)] }),
  },
  {
    id: 'go',
    label: 'Go http.FileServer',
    byDefault: true,
    unavailableReason: needsCommand('go'),
    command: ({ root, port }) => ({ command: compileGo('go-fileserver', 'go-fileserver'), args: [root, '--port', String(port), '--host', '127.0.0.1'] }),
  },
  {
    id: 'bun',
    label: 'Bun (Bun.serve + Bun.file)',
    byDefault: true,
    unavailableReason: () => (existsSync(BUN_BINARY) ? null : 'the npm package @oven/bun-linux-x64 is not installed (cd bench && npm install)'),
    command: ({ root, port }) => ({ command: BUN_BINARY, args: [join(BENCH_DIR, 'peers', 'bun-static-server.mjs'), root, '--port', String(port), '--host', '127.0.0.1'], cwd: BENCH_DIR }),
  },
  {
    // A reference for the small-file case: node:http answering from buffers
    // read at start, nothing else (peers/node-bare-server.mjs). Files above
    // 1 MiB are not loaded, so it runs only for those sizes.
    id: 'node-bare',
    label: 'bare node:http, cached Buffer (reference)',
    byDefault: true,
    maxBytes: 1 << 20,
    unavailableReason: () => null,
    command: ({ root, port }) => nodePeer('node-bare-server.mjs', port, root),
  },
  {
    id: 'express-static',
    label: 'express.static',
    byDefault: true,
    unavailableReason: needsPackage('express'),
    command: ({ root, port }) => nodePeer('express-static-server.mjs', port, root),
  },
  {
    id: 'fastify-static',
    label: '@fastify/static',
    byDefault: true,
    unavailableReason: needsPackage('@fastify/static'),
    command: ({ root, port }) => nodePeer('fastify-static-server.mjs', port, root),
  },
  {
    id: 'node-stream',
    label: 'node createReadStream().pipe',
    byDefault: true,
    unavailableReason: () => null,
    command: ({ root, port }) => nodePeer('node-stream-server.mjs', port, root),
  },
  {
    id: 'serve-static',
    label: 'serve-static on node:http',
    byDefault: false,
    unavailableReason: needsPackage('serve-static'),
    command: ({ root, port }) => nodePeer('serve-static-server.mjs', port, root),
  },
];
