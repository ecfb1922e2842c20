/**
 * `zerocopy proxy --listen HOST:PORT --to HOST:PORT[,...]`: a TCP proxy that
 * splices bytes in the kernel. Logs one line per connection; SIGTERM or
 * SIGINT drains (stop accepting, let live connections finish up to
 * --drain-timeout), a second signal cuts the rest at once.
 */

import {
  createProxy,
  formatRecordJson,
  formatRecordText,
  isNativeAvailable,
  nativeUnavailableReason,
  PipePool,
  capabilityReport,
  summarizeCapabilities,
  type HostPort,
  type ProxyLogRecord,
  type TcpProxy,
} from '../../index.js';
import { DEFAULT_FAIL_TIMEOUT_MS } from '../../proxy/options.js';
import { DEFAULT_MAX_PIPES } from '../../transfer/pipe-pool.js';
import { parseCommandLine, UsageError, usageError } from '../arguments.js';
import type { Command } from '../index.js';
import { formatHostPort, LISTEN_FORMS, parseListenAddress, type ListenAddress } from '../listen-address.js';
import { describeError, printError } from '../output.js';
import { currentFileLimit, describeLowFileLimit } from '../file-limit.js';

/** Idle connections are cut after 5 minutes by default: a dead peer without keepalive would hold its fds forever. */
const DEFAULT_IDLE_TIMEOUT_SECONDS = 300;
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 5;
const DEFAULT_FAIL_TIMEOUT_SECONDS = DEFAULT_FAIL_TIMEOUT_MS / 1000;
/** Long enough for a typical request to finish; short enough for a deploy (Kubernetes waits 30 s before SIGKILL). */
const DEFAULT_DRAIN_TIMEOUT_SECONDS = 25;
const MS_PER_SECOND = 1000;

const HELP = `Usage: zerocopy proxy --listen ADDRESS --to HOST:PORT[,HOST:PORT...] [options]

Relays every TCP connection accepted on --listen to an upstream, moving the
bytes in the kernel (splice(2) through a pipe per direction). Upstreams are
used round-robin; one that refuses or does not answer in time is skipped for
the next, and tried last for --fail-timeout seconds after. Logs one line per
connection (stdout; warnings to stderr).

Options:
  -l, --listen ADDRESS           where to accept: PORT (on 127.0.0.1), HOST:PORT,
                                 [IPv6]:PORT, :PORT (every interface) or
                                 tcp://HOST:PORT; port 0 picks a free one
  -t, --to HOST:PORT[,...]       upstreams, round-robin with failover
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


/** "1.5" → 1500 ms. */
function parseSeconds(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback * MS_PER_SECOND;
  if (!/^\d+(\.\d+)?$/.test(text)) throw new UsageError(`${name} takes a number of seconds (e.g. 30 or 0.5), got '${text}'`);
  return Math.round(Number(text) * MS_PER_SECOND);
}

function parseCount(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} takes a whole number, got '${text}'`);
  return Number(text);
}

function parseListen(text: string | undefined): ListenAddress {
  if (text === undefined) throw new UsageError('missing --listen');
  const address = parseListenAddress(text);
  if (!address) throw new UsageError(`--listen takes ${LISTEN_FORMS}, got '${text}'`);
  return address;
}

/** `--to a:1,b:2`: the same forms as --listen, each with a port to connect to. */
function parseUpstreamList(text: string | undefined): HostPort[] {
  if (text === undefined) throw new UsageError('missing --to');
  return text.split(',').map((item) => {
    const address = parseListenAddress(item);
    if (!address || address.host === '' || address.port === 0) {
      throw new UsageError(`--to takes HOST:PORT[,HOST:PORT...] (IPv6 as [ADDRESS]:PORT), got '${item}'`);
    }
    return address;
  });
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
      listen: { type: 'string', short: 'l' },
      to: { type: 'string', short: 't' },
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
    const json = values.json === true;
    let proxy: TcpProxy;
    let listen: ListenAddress;
    let drainTimeoutMs: number;
    try {
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      listen = parseListen(values.listen);
      const upstream = parseUpstreamList(values.to);
      if (values['send-proxy'] && values['send-proxy-v2']) throw new UsageError('choose one of --send-proxy and --send-proxy-v2');
      drainTimeoutMs = parseSeconds(values['drain-timeout'], '--drain-timeout', DEFAULT_DRAIN_TIMEOUT_SECONDS);
      const maxPipes = parseCount(values['max-pipes'], '--max-pipes');
      proxy = createProxy({
        ...(maxPipes !== undefined ? { pipePool: new PipePool({ maxPipes }) } : {}),
        listen,
        upstream,
        maxConnections: parseCount(values['max-conns'], '--max-conns'),
        idleTimeout: parseSeconds(values['idle-timeout'], '--idle-timeout', DEFAULT_IDLE_TIMEOUT_SECONDS),
        connectTimeout: parseSeconds(values['connect-timeout'], '--connect-timeout', DEFAULT_CONNECT_TIMEOUT_SECONDS),
        failTimeout: parseSeconds(values['fail-timeout'], '--fail-timeout', DEFAULT_FAIL_TIMEOUT_SECONDS),
        ...(values['send-proxy'] ? { proxyProtocol: 1 as const } : values['send-proxy-v2'] ? { proxyProtocol: 2 as const } : {}),
        method: values.copy ? 'copy' : 'auto',
        onLog: makeLogger(json),
      });
    } catch (error) {
      // createProxy's own checks (ZC_ERR_*) are usage errors too: they are about these flags.
      return usageError('proxy', error instanceof UsageError ? error.message : describeError(error));
    }

    let bound;
    try {
      bound = await proxy.listen();
    } catch (error) {
      const where = formatHostPort(listen.host || '*', listen.port);
      printError((error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `${where} is already in use` : `cannot listen on ${where}: ${describeError(error)}`);
      return 1;
    }
    const drained = drainOnSignals(proxy, drainTimeoutMs, json);
    const report = await capabilityReport();
    const summary = summarizeCapabilities(report);
    // Smaller pipes cost 25-35% of a relay's throughput (issue 11): say so at once.
    const pipes = report.checks.find((c) => c.id === 'pipe_size');
    const pipeWarning = pipes && pipes.status !== 'ok' && !values.copy
      ? `warning: relay pipes are ${pipes.value ?? 'unavailable'}: ${pipes.reason ?? ''}; each splice moves less, relays cost more CPU (zerocopy doctor)` : undefined;
    // Per connection: two sockets, a dup of each for each direction's job, two pipes (measured).
    const fileLimit = currentFileLimit();
    const limitWarning = describeLowFileLimit(fileLimit, 10, 'connections');
    const address = formatHostPort(bound.address, bound.port);
    const upstreams = proxy.upstreamList.map((u) => formatHostPort(u.host, u.port));
    const method = values.copy ? 'copy' : isNativeAvailable() ? 'splice' : 'copy';
    const why = values.copy ? 'forced by --copy' : nativeUnavailableReason();
    if (json) {
      console.log(JSON.stringify({ event: 'listening', time: new Date().toISOString(), address, upstreams, method, ...(why ? { copyReason: why } : {}), capabilities: summary, ...(pipes?.value ? { pipeSize: pipes.value } : {}), ...(fileLimit ? { openFileLimit: fileLimit.soft } : {}) }));
      if (pipeWarning) console.error(JSON.stringify({ event: 'warning', message: pipeWarning }));
      if (limitWarning) console.error(JSON.stringify({ event: 'warning', message: limitWarning }));
    } else {
      console.log(`zerocopy proxy listening on ${address}, relaying to ${upstreams.join(', ')} (${method}${why ? `: ${why}` : ''})`);
      console.log(`  ${summary}${pipes?.value && pipes.status === 'ok' ? `; pipes ${pipes.value}` : ''} (zerocopy doctor tells more)`);
      if (pipeWarning) printError(pipeWarning);
      if (limitWarning) printError(limitWarning);
    }
    await drained;
    return 0;
  },
};
