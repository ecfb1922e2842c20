/**
 * `zerocopy serve [DIR]`: a static-file server whose bodies go out with
 * sendfile(2). With no flags it serves the current directory on
 * http://127.0.0.1:8080/ and prints that URL. SIGINT/SIGTERM shut it down
 * gracefully: no new connections, in-flight responses finish (up to
 * --shutdown-timeout), then exit 0. A second signal exits at once.
 *
 * Everything that can be checked before listening (DIR, the TLS files) is
 * checked first, in the process the user started, so a mistake is one line
 * and exit 1 whether or not --workers forks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { createStaticServer, DEFAULT_SHUTDOWN_TIMEOUT_MS, type StaticServerOptions } from '../../http/faces/server.js';
import { formatCommonLogLine, type AccessLogEntry } from '../../http/faces/access-log.js';
import { isClusterWorker, onWorkerShutdown, reportStartupFailure, reportStopped, runPrimary } from '../../http/faces/workers.js';
// The modules behind the public API, not index.js: that would load the proxy,
// the log broker and everything else into a static server (~3 MiB, issue 11).
import { summarizeCapabilities } from '../../capabilities/format.js';
import { capabilityReport, type CapabilityReport } from '../../capabilities/report.js';
import { parseCommandLine, UsageError, usageError } from '../arguments.js';
import { createPalette, shouldColor, type Palette } from '../color.js';
import type { Command } from '../index.js';
import {
  DEFAULT_LISTEN_HOST,
  formatHostPort,
  formatUrl,
  LISTEN_FORMS,
  parseListenAddress,
  reachableHosts,
  type ListenAddress,
} from '../listen-address.js';
import { describeError, printError } from '../output.js';
import { currentFileLimit, describeLowFileLimit } from '../file-limit.js';

const DEFAULT_PORT = 8080;
const MS_PER_SECOND = 1000;

const HELP = `Usage: zerocopy serve [DIR] [options]

Serves DIR (default: the current directory) over HTTP; file bodies are sent
with sendfile(2), small files from memory.

Where:
  -l, --listen ADDRESS       PORT (on ${DEFAULT_LISTEN_HOST}), HOST:PORT, [IPv6]:PORT,
                             :PORT (every interface) or tcp://HOST:PORT
                             (default ${DEFAULT_LISTEN_HOST}:${DEFAULT_PORT})
  -p, --port PORT            port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  -H, --host ADDR            address to listen on (default ${DEFAULT_LISTEN_HOST};
                             0.0.0.0 or :: for every interface)
      --tls-cert FILE        serve HTTPS, HTTP/2 and HTTP/1.1, with this PEM
      --tls-key FILE         certificate (chain) and private key; bodies are then
                             encrypted in user space (copy), not sent by sendfile

What:
      --single               single-page app: unknown extension-less paths get
                             /index.html (also --spa)
      --ext EXT[,EXT...]     try these extensions for paths that have none
                             (clean URLs: --ext html serves /about from about.html)
      --listing              list directories that have no index.html
      --dotfiles MODE        paths with a .name: ignore (404, default), deny (403)
                             or allow
      --no-dotfiles          the same as --dotfiles ignore
      --precompressed        serve x.br / x.gz siblings when the client accepts them
      --follow-symlinks      follow symlinks that lead outside DIR

Headers:
      --max-age SECONDS      Cache-Control: public, max-age=SECONDS (default 0;
                             also --cache)
      --immutable            add immutable to Cache-Control (fingerprinted files)
      --no-etag              send no ETag (Last-Modified still validates)
      --cors                 let any origin read (Access-Control-Allow-Origin: *)

Output:
      --log [FORMAT]         access log on stdout, common (CLF + body path) or
                             json; on by default when stdout is a terminal
  -q, --quiet                no access log
      --json                 startup and shutdown lines as JSON (and the log)
                             Colours only on a terminal, never with NO_COLOR set.

Process:
  -w, --workers N            N processes sharing the port (node:cluster;
                             "auto": one per core)
      --max-connections N    connections accepted at once (default 10000)
      --timeout SECONDS      close connections idle (nothing sent or received)
                             this long (default 60)
      --shutdown-timeout SECONDS
                             how long in-flight responses may finish on
                             SIGINT/SIGTERM (default 10)
      --header-mode MODE     prefix (default) or cork: how headers join the
                             sendfile body
      --copy                 send bodies through user space instead of sendfile
                             (comparison)
  -h, --help                 show this help`;

/** The option table for parseArgs. */
const OPTIONS = {
  listen: { type: 'string', short: 'l' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string', short: 'H' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  single: { type: 'boolean' },
  spa: { type: 'boolean' },
  ext: { type: 'string', multiple: true },
  listing: { type: 'boolean' },
  dotfiles: { type: 'string' },
  'no-dotfiles': { type: 'boolean' },
  precompressed: { type: 'boolean' },
  'follow-symlinks': { type: 'boolean' },
  'max-age': { type: 'string' },
  cache: { type: 'string' },
  immutable: { type: 'boolean' },
  'no-etag': { type: 'boolean' },
  cors: { type: 'boolean' },
  log: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
  workers: { type: 'string', short: 'w' },
  'max-connections': { type: 'string' },
  timeout: { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'header-mode': { type: 'string' },
  copy: { type: 'boolean' },
} as const;

const LOG_FORMATS = ['common', 'json'] as const;

/**
 * `--log` takes an optional format, which parseArgs cannot express:
 * `--log json` and `--log=json` name one, a bare `--log` means common.
 */
function normalizeLogFlag(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (arg !== '--log') {
      out.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && (LOG_FORMATS as readonly string[]).includes(next)) {
      out.push(`--log=${next}`);
      i++;
    } else {
      out.push('--log=common');
    }
  }
  return out;
}

function parseCount(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return Number(value);
}

function parseSeconds(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new UsageError(`--${name} must be a number of seconds, got '${value}'`);
  return Math.round(Number(value) * MS_PER_SECOND);
}

/** What parseArgs returns for OPTIONS: booleans, strings, and string[] for `multiple` ones. */
type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function parseListen(values: Values): ListenAddress {
  if (values.listen !== undefined) {
    if (values.port !== undefined || values.host !== undefined) throw new UsageError('use --listen or --port/--host, not both');
    const address = parseListenAddress(values.listen);
    if (!address) throw new UsageError(`--listen takes ${LISTEN_FORMS}, got '${values.listen}'`);
    return address;
  }
  const port = parseCount(values.port, 'port', 0) ?? DEFAULT_PORT;
  if (port > 65535) throw new UsageError(`--port must be <= 65535, got '${values.port}'`);
  const host = values.host ?? DEFAULT_LISTEN_HOST;
  return { host: host === '::' || host === '[::]' ? '::' : host.replace(/^\[(.*)\]$/, '$1'), port };
}

function parseExtensions(list: string[] | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const given = list.flatMap((item) => item.split(',')).map((ext) => ext.trim());
  const bad = given.find((ext) => !/^\.?[\w-]+$/.test(ext));
  if (bad !== undefined) throw new UsageError(`--ext takes extensions like html or html,htm, got '${bad}'`);
  return given.map((ext) => ext.replace(/^\./, ''));
}

function parseDotfiles(values: Values): 'ignore' | 'deny' | 'allow' | undefined {
  const mode = values.dotfiles;
  if (values['no-dotfiles']) {
    if (mode !== undefined && mode !== 'ignore') throw new UsageError(`--no-dotfiles contradicts --dotfiles ${mode}`);
    return 'ignore';
  }
  if (mode !== undefined && mode !== 'ignore' && mode !== 'deny' && mode !== 'allow') {
    throw new UsageError(`--dotfiles must be ignore, deny or allow, got '${mode}'`);
  }
  return mode;
}

/** Everything the command line decides, before any file or socket is touched. */
interface ServeConfig {
  root: string;
  listen: ListenAddress;
  workers: number;
  shutdownTimeoutMs: number;
  json: boolean;
  log: 'common' | 'json' | undefined;
  tlsFiles: { cert: string; key: string } | undefined;
  /** serveStatic and server options, without root, log and TLS (filled in at start). */
  options: Omit<StaticServerOptions, 'root' | 'log' | 'logFormat' | 'tls'>;
}

function parseConfig(values: Values, positionals: string[]): ServeConfig {
  if (positionals.length > 1) throw new UsageError(`expected at most one DIR, got ${positionals.map((p) => `'${p}'`).join(' ')}`);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  if (values.log !== undefined && !(LOG_FORMATS as readonly string[]).includes(values.log)) {
    throw new UsageError(`--log takes common or json, got '${values.log}'`);
  }
  if (values.quiet && values.log !== undefined) throw new UsageError('--quiet contradicts --log');
  if (values['max-age'] !== undefined && values.cache !== undefined) throw new UsageError('--max-age and --cache are the same option; give one');
  const headerMode = values['header-mode'];
  if (headerMode !== undefined && headerMode !== 'cork' && headerMode !== 'prefix') {
    throw new UsageError(`--header-mode must be cork or prefix, got '${headerMode}'`);
  }
  const json = values.json === true;
  const logOn = values.log !== undefined || (!values.quiet && process.stdout.isTTY === true);
  const shutdownTimeoutMs = parseSeconds(values['shutdown-timeout'], 'shutdown-timeout') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const idleTimeout = parseSeconds(values.timeout, 'timeout');
  const maxConnections = parseCount(values['max-connections'], 'max-connections', 1);
  const maxAge = parseSeconds(values['max-age'] ?? values.cache, values['max-age'] !== undefined ? 'max-age' : 'cache');
  const extensions = parseExtensions(values.ext);
  const dotfiles = parseDotfiles(values);
  return {
    root: path.resolve(positionals[0] ?? '.'),
    listen: parseListen(values),
    workers: values.workers === 'auto' ? os.availableParallelism() : (parseCount(values.workers, 'workers', 1) ?? 1),
    shutdownTimeoutMs,
    json,
    log: logOn ? (values.log === 'json' || json ? 'json' : 'common') : undefined,
    tlsFiles: values['tls-cert'] !== undefined ? { cert: values['tls-cert'], key: values['tls-key']! } : undefined,
    options: {
      maxAge: maxAge ?? 0,
      immutable: values.immutable === true,
      cors: values.cors === true,
      spaFallback: values.single === true || values.spa === true,
      listing: values.listing === true,
      precompressed: values.precompressed === true,
      followSymlinks: values['follow-symlinks'] === true,
      shutdownTimeout: shutdownTimeoutMs,
      ...(values['no-etag'] ? { etag: false } : {}),
      ...(extensions ? { extensions } : {}),
      ...(dotfiles ? { dotfiles } : {}),
      ...(headerMode ? { headerMode } : {}),
      ...(values.copy ? { method: 'copy' as const } : {}),
      ...(idleTimeout !== undefined ? { idleTimeout } : {}),
      ...(maxConnections !== undefined ? { maxConnections } : {}),
    },
  };
}

/** A startup failure: one line for the user, exit 1. */
class StartupError extends Error {}

function checkRoot(root: string): void {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(root);
    fs.accessSync(root, fs.constants.R_OK | fs.constants.X_OK);
  } catch (error) {
    throw new StartupError(`cannot serve '${root}': ${describeError(error)}`);
  }
  if (!stats.isDirectory()) throw new StartupError(`cannot serve '${root}': not a directory`);
}

/** Reads the PEM files and proves they make a TLS context, so a bad file fails here, not at the first client. */
function loadTls(files: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (flag: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new StartupError(`cannot read ${flag} '${file}': ${describeError(error)}`);
    }
  };
  const credentials = { cert: read('--tls-cert', files.cert), key: read('--tls-key', files.key) };
  // One at a time, so the message names the file that is wrong.
  const check = (context: tls.SecureContextOptions, what: string) => {
    try {
      tls.createSecureContext(context);
    } catch (error) {
      // OpenSSL's reason ('no start line', 'key values mismatch') without its error-code prefix.
      const reason = (error as { reason?: string }).reason ?? describeError(error);
      throw new StartupError(`${what}: ${reason}`);
    }
  };
  check({ cert: credentials.cert }, `--tls-cert '${files.cert}' is not a PEM certificate`);
  check({ key: credentials.key }, `--tls-key '${files.key}' is not a PEM private key`);
  check(credentials, `--tls-key '${files.key}' does not belong to --tls-cert '${files.cert}'`);
  return credentials;
}

/** The one line for a listen(2) failure. */
function describeListenError(error: unknown, address: ListenAddress): string {
  const where = formatHostPort(address.host || '*', address.port);
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return `${where} is already in use`;
  return `cannot listen on ${where}: ${describeError(error)}`;
}

/** What moves the bodies, and why when it is not sendfile, for the startup line. */
function describeBodyPath(config: ServeConfig, report: CapabilityReport): { body: 'sendfile' | 'copy'; why?: string } {
  if (config.options.method === 'copy') return { body: 'copy', why: 'forced by --copy' };
  if (config.tlsFiles) return { body: 'copy', why: 'HTTPS encrypts in user space' };
  if (!report.native.loaded) return { body: 'copy', why: report.native.reason ?? 'no native addon' };
  return { body: 'sendfile' };
}

/**
 * The host's zero-copy paths for the startup line (the report `zerocopy
 * doctor` prints in full), started once per process and awaited only when
 * the line is printed: ~10 ms of probing.
 */
let capabilities: Promise<CapabilityReport> | undefined;
function hostCapabilities(): Promise<CapabilityReport> {
  capabilities ??= capabilityReport();
  return capabilities;
}

async function announce(config: ServeConfig, port: number, palette: Palette): Promise<void> {
  const report = await hostCapabilities();
  const summary = summarizeCapabilities(report);
  const scheme = config.tlsFiles ? 'https' : 'http';
  const urls = reachableHosts(config.listen.host).map((host) => formatUrl(scheme, host, port));
  const { body, why } = describeBodyPath(config, report);
  const fileLimit = currentFileLimit();
  const limitWarning = describeLowFileLimit(fileLimit, 3, 'responses in flight');
  if (config.json) {
    console.log(JSON.stringify({
      event: 'listening',
      url: urls[0],
      urls,
      root: config.root,
      workers: config.workers,
      body,
      ...(why ? { copyReason: why } : {}),
      protocols: config.tlsFiles ? ['h2', 'http/1.1'] : ['http/1.1'],
      capabilities: summary,
      ...(fileLimit ? { openFileLimit: fileLimit.soft } : {}),
    }));
    if (limitWarning) console.error(JSON.stringify({ event: 'warning', message: limitWarning }));
    return;
  }
  const details = [why ? `bodies: copy, ${why}` : `bodies: ${body}`];
  if (config.tlsFiles) details.push('HTTP/2 and HTTP/1.1');
  if (config.workers > 1) details.push(`${config.workers} workers`);
  const lines = [`Serving ${config.root} at ${palette.url(urls[0]!)} ${palette.dim(`(${details.join('; ')})`)}`];
  for (const url of urls.slice(1)) lines.push(`  also at ${palette.url(url)}`);
  lines.push(palette.dim(`  ${summary} (zerocopy doctor tells more)`));
  console.log(lines.join('\n'));
  if (limitWarning) printError(limitWarning);
}

function printStopped(config: ServeConfig, reason: string, destroyed: number): void {
  if (config.json) console.log(JSON.stringify({ event: 'stopped', reason, destroyed }));
  else console.error(`zerocopy serve: stopped (${reason})${destroyed ? `; ${destroyed} connection(s) cut at the deadline` : ''}`);
}

/** The access-log formatter: CLF with the status in colour on a terminal, or JSON. */
function logFormatFor(config: ServeConfig, palette: Palette): StaticServerOptions['logFormat'] {
  if (config.log === 'json') return 'json';
  // The request field is escaped (no raw quote inside), so the first `" NNN ` is the status.
  return (entry: AccessLogEntry) => formatCommonLogLine(entry).replace(/" (\d{3}) /, (_all, status: string) => `" ${palette.status(entry.status)(status)} `);
}

/** --workers N in the primary: supervise, print the one line of a worker that could not start. */
async function runSupervisor(config: ServeConfig, palette: Palette): Promise<number> {
  const outcome = await runPrimary({
    workers: config.workers,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    onListening: (address) => void announce(config, address.port, palette),
    onEvent: (event) => {
      if (config.json) console.error(JSON.stringify({ ...event, event: event.type }));
      else if (event.type === 'worker-exit') printError(`worker ${event.worker} exited (${event.signal ?? `exit code ${event.code}`}); restarting`);
    },
  });
  if (outcome.startupFailure !== undefined) {
    printError(outcome.startupFailure);
    return 1;
  }
  if (outcome.reason === 'crash-loop') {
    printError('workers keep crashing; stopped');
    return 1;
  }
  printStopped(config, outcome.reason, outcome.destroyed);
  return outcome.code;
}

/** One server in this process: the whole command, or one worker of --workers. */
async function runServer(config: ServeConfig, credentials: { cert: Buffer; key: Buffer } | undefined, palette: Palette): Promise<number> {
  const worker = isClusterWorker();
  // Listen for the shutdown request before anything else: a signal (or the
  // primary's message) during startup must not be lost.
  const stopRequested = new Promise<string>((resolve) => {
    if (worker) {
      onWorkerShutdown(resolve);
      return;
    }
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const server = createStaticServer({
    ...config.options,
    root: config.root,
    log: config.log !== undefined,
    logFormat: logFormatFor(config, palette),
    ...(credentials ? { tls: credentials } : {}),
  });
  try {
    const address = await server.listen(config.listen.port, config.listen.host);
    if (!worker) await announce(config, address.port, palette);
  } catch (error) {
    await server.close(0);
    const message = describeListenError(error, config.listen);
    if (worker) {
      await reportStartupFailure(message);
      process.disconnect?.();
    } else {
      printError(message);
    }
    return 1;
  }

  const reason = await stopRequested;
  // A second signal while draining: stop now.
  const force = () => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  const { destroyed } = await server.close(config.shutdownTimeoutMs);
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  if (worker) {
    await reportStopped(destroyed);
    // The IPC channel to the primary would keep a worker alive.
    process.disconnect?.();
  } else {
    printStopped(config, reason, destroyed);
  }
  return 0;
}

export const serveCommand: Command = {
  summary: 'serve a directory over HTTP(S) with sendfile bodies',
  help: HELP,
  async run(argv) {
    const parsed = parseCommandLine('serve', normalizeLogFlag(argv), OPTIONS, HELP);
    if (typeof parsed === 'number') return parsed;
    let config: ServeConfig;
    try {
      config = parseConfig(parsed.values as Values, parsed.positionals);
    } catch (error) {
      if (error instanceof UsageError) return usageError('serve', error.message);
      throw error;
    }
    const palette = createPalette(shouldColor(process.stdout));
    let credentials: { cert: Buffer; key: Buffer } | undefined;
    try {
      checkRoot(config.root);
      credentials = config.tlsFiles ? loadTls(config.tlsFiles) : undefined;
    } catch (error) {
      if (!(error instanceof StartupError)) throw error;
      // Workers never get here with a bad root or TLS file: the primary checked first.
      if (isClusterWorker()) await reportStartupFailure(error.message);
      else printError(error.message);
      return 1;
    }
    if (config.workers > 1 && !isClusterWorker()) return runSupervisor(config, palette);
    return runServer(config, credentials, palette);
  },
};
