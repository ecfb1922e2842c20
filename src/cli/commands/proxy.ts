/**
 * `zerocopy proxy --listen HOST:PORT --to HOST:PORT[,...]`: a TCP proxy that
 * splices bytes in the kernel. Logs one line per connection; SIGTERM or
 * SIGINT drains (stop accepting, let live connections finish up to
 * --drain-timeout), a second signal cuts the rest at once.
 */

import { createError } from '../../errors.js';
import { isNativeAvailable, nativeUnavailableReason } from '../../native/status.js';
import { formatRecordJson, formatRecordText, type ProxyLogRecord } from '../../proxy/log.js';
import { DEFAULT_FAIL_TIMEOUT_MS } from '../../proxy/options.js';
import { createProxy, type TcpProxy } from '../../proxy/server.js';
import { formatHostPort } from '../../proxy/upstreams.js';
import { DEFAULT_MAX_PIPES, PipePool } from '../../transfer/pipe-pool.js';
import { EXIT_USAGE, parseCommandLine } from '../arguments.js';
import type { Command } from '../index.js';
import { describeError, printError } from '../output.js';

/** Idle connections are cut after 5 minutes by default: a dead peer without keepalive would hold its fds forever. */
const DEFAULT_IDLE_TIMEOUT_SECONDS = 300;
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 5;
const DEFAULT_FAIL_TIMEOUT_SECONDS = DEFAULT_FAIL_TIMEOUT_MS / 1000;
/** Long enough for a typical request to finish; short enough for a deploy (Kubernetes waits 30 s before SIGKILL). */
const DEFAULT_DRAIN_TIMEOUT_SECONDS = 25;
const MS_PER_SECOND = 1000;

const HELP = `Usage: zerocopy proxy --listen HOST:PORT --to HOST:PORT[,HOST:PORT...] [options]

Relays every TCP connection accepted on --listen to an upstream, moving the
bytes in the kernel (splice(2) through a pipe per direction). Upstreams are
used round-robin; one that refuses or does not answer in time is skipped for
the next, and tried last for --fail-timeout seconds after. Logs one line per
connection (stdout; warnings to stderr).

Options:
      --listen HOST:PORT         address to accept on ([::1]:PORT for IPv6,
                                 :PORT for every interface, port 0 for any free one)
      --to HOST:PORT[,...]       upstreams, round-robin with failover
      --max-conns N              live connections at most; more are closed at once
                                 (default: no limit)
      --idle-timeout SECONDS     close a connection idle both ways this long
                                 (default ${DEFAULT_IDLE_TIMEOUT_SECONDS}; 0: never)
      --connect-timeout SECONDS  give up on an upstream after this long and try
                                 the next (default ${DEFAULT_CONNECT_TIMEOUT_SECONDS})
      --fail-timeout SECONDS     after a failed connect, try that upstream last
                                 for this long (default ${DEFAULT_FAIL_TIMEOUT_SECONDS}; 0: plain round-robin)
      --drain-timeout SECONDS    on SIGTERM/SIGINT, let live connections finish
                                 this long, then cut them (default ${DEFAULT_DRAIN_TIMEOUT_SECONDS})
      --max-pipes N              kernel pipes at most (two per connection, like
                                 HAProxy's maxpipes); past them connections copy
                                 and say so (default ${DEFAULT_MAX_PIPES})
      --send-proxy               send a PROXY protocol v1 header to the upstream
      --send-proxy-v2            send a PROXY protocol v2 (binary) header
      --json                     log JSON lines, all on stdout
      --copy                     relay through user space instead (for comparison)
  -h, --help                     show this help`;


/** "1.5" → 1500 ms; throws ZC_ERR_INVALID_ARG for anything but a non-negative number. */
function parseSeconds(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback * MS_PER_SECOND;
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(seconds)) throw createError('ZC_ERR_INVALID_ARG', [name, 'a number of seconds (e.g. 30 or 0.5)', text]);
  return Math.round(seconds * MS_PER_SECOND);
}

function parseCount(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw createError('ZC_ERR_INVALID_ARG', [name, 'a non-negative integer', text]);
  return Number(text);
}

/** Where each record goes: JSON all on stdout; text connection lines on stdout, warnings on stderr. */
function makeLogger(json: boolean): (record: ProxyLogRecord) => void {
  return (record) => {
    if (json) console.log(formatRecordJson(record));
    else if (record.event === 'connection') console.log(formatRecordText(record));
    else console.error(formatRecordText(record));
  };
}

/** Resolves once the proxy has drained after SIGTERM/SIGINT. */
function drainOnSignals(proxy: TcpProxy, drainTimeoutMs: number, json: boolean): Promise<void> {
  return new Promise((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      const time = new Date().toISOString();
      if (signals > 1) {
        // Like nginx's fast shutdown after a graceful one was asked for.
        if (json) console.log(JSON.stringify({ event: 'stopping', time, signal, live: proxy.connections }));
        else console.error(`${time} stopping signal=${signal} live=${proxy.connections} (cutting live connections now)`);
        void proxy.close({ timeout: 0 });
        return;
      }
      // close() stops accepting before it returns, so the line below is
      // true when it is printed: a connect after it is refused.
      const drained = proxy.close({ timeout: drainTimeoutMs });
      if (json) console.log(JSON.stringify({ event: 'draining', time, signal, live: proxy.connections, deadlineMs: drainTimeoutMs }));
      else console.error(`${time} draining signal=${signal} live=${proxy.connections} deadline_s=${drainTimeoutMs / MS_PER_SECOND} (no longer accepting)`);
      void drained.then(({ finished, aborted }) => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        const now = new Date().toISOString();
        if (json) console.log(JSON.stringify({ event: 'stopped', time: now, finished, aborted }));
        else console.error(`${now} stopped finished=${finished} aborted=${aborted}`);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export const proxyCommand: Command = {
  summary: 'TCP proxy that relays with splice (round-robin, PROXY protocol, drain)',
  help: HELP,
  async run(argv) {
    const parsed = parseCommandLine('proxy', argv, {
      listen: { type: 'string' },
      to: { type: 'string' },
      'max-conns': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'connect-timeout': { type: 'string' },
      'fail-timeout': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'max-pipes': { type: 'string' },
      'send-proxy': { type: 'boolean' },
      'send-proxy-v2': { type: 'boolean' },
      json: { type: 'boolean' },
      copy: { type: 'boolean' },
    }, HELP);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    if (positionals.length > 0) {
      printError(`unexpected argument '${positionals[0]}'`, 'proxy');
      return EXIT_USAGE;
    }
    const json = values.json === true;
    let proxy: TcpProxy;
    let drainTimeoutMs: number;
    try {
      if (!values.listen || !values.to) throw new Error('--listen and --to are required');
      if (values['send-proxy'] && values['send-proxy-v2']) throw new Error('choose one of --send-proxy and --send-proxy-v2');
      drainTimeoutMs = parseSeconds(values['drain-timeout'], '--drain-timeout', DEFAULT_DRAIN_TIMEOUT_SECONDS);
      const maxPipes = parseCount(values['max-pipes'], '--max-pipes');
      proxy = createProxy({
        ...(maxPipes !== undefined ? { pipePool: new PipePool({ maxPipes }) } : {}),
        listen: values.listen,
        upstream: values.to,
        maxConnections: parseCount(values['max-conns'], '--max-conns'),
        idleTimeout: parseSeconds(values['idle-timeout'], '--idle-timeout', DEFAULT_IDLE_TIMEOUT_SECONDS),
        connectTimeout: parseSeconds(values['connect-timeout'], '--connect-timeout', DEFAULT_CONNECT_TIMEOUT_SECONDS),
        failTimeout: parseSeconds(values['fail-timeout'], '--fail-timeout', DEFAULT_FAIL_TIMEOUT_SECONDS),
        ...(values['send-proxy'] ? { proxyProtocol: 1 as const } : values['send-proxy-v2'] ? { proxyProtocol: 2 as const } : {}),
        method: values.copy ? 'copy' : 'auto',
        onLog: makeLogger(json),
      });
    } catch (error) {
      printError(describeError(error), 'proxy');
      console.error(HELP);
      return EXIT_USAGE;
    }

    let bound;
    try {
      bound = await proxy.listen();
    } catch (error) {
      printError(`cannot listen on ${values.listen}: ${describeError(error)}`, 'proxy');
      return 1;
    }
    const drained = drainOnSignals(proxy, drainTimeoutMs, json);
    const address = formatHostPort({ host: bound.address, port: bound.port });
    const upstreams = proxy.upstreamList.map(formatHostPort);
    const method = values.copy ? 'copy' : isNativeAvailable() ? 'splice' : 'copy';
    const why = values.copy ? 'forced by --copy' : nativeUnavailableReason();
    if (json) {
      console.log(JSON.stringify({ event: 'listening', time: new Date().toISOString(), address, upstreams, method, ...(why ? { copyReason: why } : {}) }));
    } else {
      console.log(`zerocopy proxy listening on ${address}, relaying to ${upstreams.join(', ')} (${method}${why ? `: ${why}` : ''})`);
    }
    await drained;
    return 0;
  },
};
