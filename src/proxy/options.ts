/**
 * The options of `createProxy`, checked once up front (the better-sqlite3
 * pattern: bad input fails with a TypeError or RangeError carrying a
 * ZC_ERR_* code before any socket is opened) and turned into plain values.
 */
import { createError } from '../errors.js';
import { PipePool } from '../transfer/pipe-pool.js';
import { checkByteCount, checkMethod, checkOptionsObject } from '../transfer/options.js';
import type { ProxyLogRecord } from './log.js';
import type { ProxyProtocolVersion } from './proxy-protocol.js';
import { parseHostPort, parseUpstreams, type HostPort } from './upstreams.js';
import { DEFAULT_LISTEN_BACKLOG } from '../listen-backlog.js';

/** HAProxy configurations commonly use `timeout connect 5s`; a loopback or LAN connect takes well under 1 ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** nginx's `fail_timeout` default: a failed upstream goes to the back of the order for 10 s. */
export const DEFAULT_FAIL_TIMEOUT_MS = 10_000;

/** Where to listen: `port` 0 lets the kernel choose; `host` '' or undefined is every interface. */
export interface ListenAddress {
  host?: string;
  port: number;
}

export interface ProxyOptions {
  /** `'127.0.0.1:8080'`, `'[::1]:8080'`, `':8080'` (every interface), or `{ host, port }`. */
  listen: string | ListenAddress;
  /** One upstream or several, tried round-robin with failover: `'a:9000,b:9000'`, or an array. */
  upstream: string | ReadonlyArray<string | HostPort>;
  /** Live connections at most; more are accepted and closed at once (and logged). 0 or undefined: no limit. */
  maxConnections?: number;
  /** Close a connection after this many ms without a byte moving either way. 0 or undefined: never. */
  idleTimeout?: number;
  /** Give up on one upstream after this many ms and try the next (default 5000; 0: the kernel's ~2 min). */
  connectTimeout?: number;
  /**
   * After a failed connect, try that upstream last for this many ms (nginx's
   * `fail_timeout`; default 10000; 0: keep plain round-robin). It is never
   * skipped: with every upstream failing, all are still tried.
   */
  failTimeout?: number;
  /** Send a PROXY protocol header of this version to the upstream before relaying. */
  proxyProtocol?: ProxyProtocolVersion;
  /** 'copy' relays through user space (for comparison); 'auto' splices when it can. */
  method?: 'auto' | 'copy';
  /** Pipes for splicing; default: the process-wide pool. */
  pipePool?: PipePool;
  /** Length of the kernel's accept queue (listen(2) backlog); default DEFAULT_LISTEN_BACKLOG, capped by net.core.somaxconn. */
  backlog?: number;
  /**
   * Receives one record per event: connection closed, upstreams down, client
   * rejected, accept failed. Called synchronously; it must not throw (an
   * exception surfaces as an unhandled rejection, as from an event listener).
   */
  onLog?: (record: ProxyLogRecord) => void;
}

/** Checked and defaulted options. */
export interface ProxySettings {
  listen: { host: string | undefined; port: number };
  upstreams: HostPort[];
  maxConnections: number | undefined;
  idleTimeoutMs: number | undefined;
  connectTimeoutMs: number;
  failTimeoutMs: number;
  proxyProtocol: ProxyProtocolVersion | undefined;
  method: 'auto' | 'copy';
  pipePool: PipePool | undefined;
  backlog: number;
  onLog: (record: ProxyLogRecord) => void;
}

const noLog = () => {};

function checkListen(value: unknown): ProxySettings['listen'] {
  if (typeof value === 'string') {
    const { host, port } = parseHostPort(value, 'options.listen', { allowEmptyHost: true });
    return { host: host || undefined, port };
  }
  if (typeof value === 'object' && value !== null) {
    const { host, port } = value as ListenAddress;
    if (host !== undefined && typeof host !== 'string') throw createError('ZC_ERR_INVALID_ARG', ['options.listen.host', 'a string', host]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw createError('ZC_ERR_OUT_OF_RANGE', ['options.listen.port', 'an integer from 0 to 65535', port]);
    }
    return { host: host || undefined, port };
  }
  throw createError('ZC_ERR_INVALID_ARG', ['options.listen', "'HOST:PORT' or { host, port }", value]);
}

/** Validates `createProxy`'s options; throws ZC_ERR_INVALID_ARG / ZC_ERR_OUT_OF_RANGE. */
export function checkProxyOptions(options: unknown): ProxySettings {
  if (options === undefined || options === null) throw createError('ZC_ERR_INVALID_ARG', ['options', 'an object', options]);
  const opts = checkOptionsObject<ProxyOptions>(options);
  const protocol = opts.proxyProtocol;
  if (protocol !== undefined && protocol !== 1 && protocol !== 2) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.proxyProtocol', '1 or 2', protocol]);
  }
  if (opts.pipePool !== undefined && !(opts.pipePool instanceof PipePool)) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.pipePool', 'a PipePool', opts.pipePool]);
  }
  if (opts.onLog !== undefined && typeof opts.onLog !== 'function') {
    throw createError('ZC_ERR_INVALID_ARG', ['options.onLog', 'a function', opts.onLog]);
  }
  if (opts.upstream === undefined) throw createError('ZC_ERR_INVALID_ARG', ['options.upstream', 'HOST:PORT or a list of them', undefined]);
  return {
    listen: checkListen(opts.listen),
    upstreams: parseUpstreams(opts.upstream, 'options.upstream'),
    maxConnections: checkByteCount(opts.maxConnections, 'options.maxConnections') || undefined,
    idleTimeoutMs: checkByteCount(opts.idleTimeout, 'options.idleTimeout') || undefined,
    connectTimeoutMs: checkByteCount(opts.connectTimeout, 'options.connectTimeout') ?? DEFAULT_CONNECT_TIMEOUT_MS,
    failTimeoutMs: checkByteCount(opts.failTimeout, 'options.failTimeout') ?? DEFAULT_FAIL_TIMEOUT_MS,
    proxyProtocol: protocol,
    method: checkMethod(opts.method, ['auto', 'copy'] as const) ?? 'auto',
    pipePool: opts.pipePool,
    backlog: checkByteCount(opts.backlog, 'options.backlog') || DEFAULT_LISTEN_BACKLOG,
    onLog: opts.onLog ?? noLog,
  };
}
