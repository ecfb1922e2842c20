/**
 * `zerocopy serve [DIR]`: a static-file server whose bodies go out with
 * sendfile(2). With no flags it serves the current directory on
 * http://127.0.0.1:8080/ and prints that URL. SIGINT/SIGTERM shut it down
 * gracefully: no new connections, in-flight responses finish (up to
 * --shutdown-timeout), then exit 0. A second signal exits at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createStaticServer, DEFAULT_SHUTDOWN_TIMEOUT_MS, type StaticServerOptions } from '../../http/server.js';
import { isClusterWorker, onWorkerShutdown, runPrimary } from '../../http/workers.js';
import { getNative } from '../../native/capabilities.js';
import { EXIT_USAGE, parseCommandLine } from '../arguments.js';
import type { Command } from '../index.js';
import { describeError, printError } from '../output.js';

const HELP = `Usage: zerocopy serve [DIR] [options]

Serves DIR (default: the current directory) over HTTP; file bodies are sent
with sendfile(2), small files from memory.

Options:
  -p, --port PORT            port to listen on (default 8080; 0 picks a free one)
  -H, --host ADDR            address to listen on (default 127.0.0.1)
      --cache SECONDS        Cache-Control max-age (default 0)
      --cors                 allow cross-origin reads (Access-Control-Allow-Origin: *)
      --spa                  serve index.html for unknown extension-less paths
      --listing              list directories that have no index.html
      --precompressed        serve x.br / x.gz siblings when the client accepts them
      --dotfiles MODE        ignore (404, default), deny (403) or allow
      --follow-symlinks      follow symlinks that lead outside DIR
  -w, --workers N            N processes sharing the port (node:cluster; "auto": one per core)
      --max-connections N    connections accepted at once (default 10000)
      --timeout SECONDS      close connections idle (nothing sent or received) this long (default 60)
      --shutdown-timeout SECONDS
                             how long in-flight responses may finish on SIGINT/SIGTERM (default 10)
      --header-mode MODE     prefix (default) or cork: how headers join the sendfile body
      --copy                 send bodies through user space instead of sendfile (comparison)
      --log                  access log on stdout (Common Log Format + body method)
      --json                 machine-readable output: startup line and log as JSON
  -h, --help                 show this help`;

function parseCount(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new Error(`--${name} must be an integer >= ${min}, got '${value}'`);
  return Number(value);
}

function parseSeconds(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`--${name} must be a number of seconds, got '${value}'`);
  return Math.round(Number(value) * 1000);
}

function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

export const serveCommand: Command = {
  summary: 'serve a directory over HTTP with sendfile bodies',
  help: HELP,
  async run(argv) {
    const parsed = parseCommandLine('serve', argv, {
      port: { type: 'string', short: 'p' },
      host: { type: 'string', short: 'H' },
      cache: { type: 'string' },
      cors: { type: 'boolean' },
      spa: { type: 'boolean' },
      listing: { type: 'boolean' },
      precompressed: { type: 'boolean' },
      dotfiles: { type: 'string' },
      'follow-symlinks': { type: 'boolean' },
      workers: { type: 'string', short: 'w' },
      'max-connections': { type: 'string' },
      timeout: { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      'header-mode': { type: 'string' },
      copy: { type: 'boolean' },
      log: { type: 'boolean' },
      json: { type: 'boolean' },
    }, HELP);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    if (positionals.length > 1) {
      printError('expected at most one DIR', 'serve');
      console.error(HELP);
      return EXIT_USAGE;
    }
    const root = path.resolve(positionals[0] ?? '.');
    const json = values.json === true;
    let options: StaticServerOptions;
    let port: number;
    let workers: number;
    let shutdownTimeout: number;
    try {
      port = parseCount(values.port, 'port', 0) ?? 8080;
      if (port > 65535) throw new Error(`--port must be <= 65535, got '${values.port}'`);
      workers = values.workers === 'auto' ? os.availableParallelism() : (parseCount(values.workers, 'workers', 1) ?? 1);
      shutdownTimeout = parseSeconds(values['shutdown-timeout'], 'shutdown-timeout') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
      const dotfiles = values.dotfiles;
      if (dotfiles !== undefined && dotfiles !== 'ignore' && dotfiles !== 'deny' && dotfiles !== 'allow') {
        throw new Error(`--dotfiles must be ignore, deny or allow, got '${dotfiles}'`);
      }
      const headerMode = values['header-mode'];
      if (headerMode !== undefined && headerMode !== 'cork' && headerMode !== 'prefix') {
        throw new Error(`--header-mode must be cork or prefix, got '${headerMode}'`);
      }
      const idle = parseSeconds(values.timeout, 'timeout');
      const maxConnections = parseCount(values['max-connections'], 'max-connections', 1);
      options = {
        root,
        maxAge: parseSeconds(values.cache, 'cache') ?? 0,
        cors: values.cors === true,
        spaFallback: values.spa === true,
        listing: values.listing === true,
        precompressed: values.precompressed === true,
        followSymlinks: values['follow-symlinks'] === true,
        shutdownTimeout,
        log: values.log === true,
        logFormat: json ? 'json' : 'common',
        ...(dotfiles ? { dotfiles } : {}),
        ...(headerMode ? { headerMode } : {}),
        ...(values.copy ? { method: 'copy' as const } : {}),
        ...(idle !== undefined ? { idleTimeout: idle } : {}),
        ...(maxConnections !== undefined ? { maxConnections } : {}),
      };
    } catch (error) {
      printError(describeError(error), 'serve');
      return EXIT_USAGE;
    }
    const host = values.host ?? '127.0.0.1';
    try {
      if (!fs.statSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
    } catch (error) {
      printError(describeError(error), 'serve');
      return 1;
    }
    const bodyPath = values.copy || getNative() === null ? 'copy' : 'sendfile';
    const announce = (address: { port: number }) => {
      const url = formatUrl(host, address.port);
      if (json) console.log(JSON.stringify({ event: 'listening', url, root, workers, body: bodyPath }));
      else console.log(`Serving ${root} at ${url}${workers > 1 ? ` (${workers} workers)` : ''}`);
    };

    if (workers > 1 && !isClusterWorker()) {
      return runPrimary({
        workers,
        shutdownTimeoutMs: shutdownTimeout,
        onListening: announce,
        onEvent: (event) => {
          if (json) console.error(JSON.stringify({ event: event.type, ...event }));
          else if (event.type === 'worker-exit') printError(`worker ${event.worker} exited (${event.signal ?? event.code}); restarting`, 'serve');
        },
      });
    }

    // Listen for the shutdown request before anything else: a signal (or the
    // primary's message) during startup must not be lost.
    const stopRequested = new Promise<string>((resolve) => {
      if (isClusterWorker()) {
        onWorkerShutdown(resolve);
        return;
      }
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    const server = createStaticServer(options);
    try {
      const address = await server.listen(port, host);
      if (!isClusterWorker()) announce(address);
    } catch (error) {
      printError(`cannot listen on ${formatUrl(host, port)}: ${describeError(error)}`, 'serve');
      await server.close(0);
      return 1;
    }

    const reason = await stopRequested;
    // A second signal while draining: stop now.
    const force = () => process.exit(130);
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    const { destroyed } = await server.close(shutdownTimeout);
    if (!isClusterWorker()) {
      if (json) console.log(JSON.stringify({ event: 'stopped', reason, destroyed }));
      else console.error(`zerocopy serve: stopped (${reason})${destroyed ? `; ${destroyed} connection(s) cut at the deadline` : ''}`);
    }
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
    // The IPC channel to the primary would keep a worker alive.
    if (isClusterWorker()) process.disconnect?.();
    return 0;
  },
};
