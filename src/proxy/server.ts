/**
 * The TCP proxy: accept, dial an upstream (round-robin, failover), optionally
 * send a PROXY protocol header, then hand both sockets to `relay()`, which
 * splices each direction through a kernel pipe. Limits, timeouts, a graceful
 * drain and one log record per connection are the policy kept here.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

import { ignoreError } from '../errors.js';
import { relay, type RelayCopyReason, type RelayError } from '../transfer/relay.js';
import { describeAttempt, dialFirstAvailable, type Dialed, type NoUpstreamError } from './connect.js';
import type { ConnectionOutcome, ConnectionRecord, ProxyLogRecord } from './log.js';
import { checkProxyOptions, type ProxyOptions, type ProxySettings } from './options.js';
import { endpointsOfAccepted, formatProxyHeader } from './proxy-protocol.js';
import { formatHostPort, RoundRobin, type HostPort } from './upstreams.js';

/** What `close()` resolves with. */
export interface DrainResult {
  /** Connections that were live when `close()` began and then ended on their own. */
  finished: number;
  /** Connections cut when the drain deadline passed. */
  aborted: number;
}

export interface CloseOptions {
  /** Cut the connections still live after this many ms (0: at once). Undefined: wait for all of them. */
  timeout?: number;
}

/** One accepted client, from accept to the end of its relay. */
interface LiveConnection {
  controller: AbortController;
  /** Set when the drain deadline cut it. */
  cutByDrain: boolean;
}

/** Errors that mean a peer went away; either errno may come first (FEASIBILITY §3). */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ENOTCONN', 'ETIMEDOUT', 'ECONNABORTED', 'ZC_ERR_SOCKET_CLOSED']);


function remoteName(socket: net.Socket): string {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress === undefined || remotePort === undefined ? '-' : formatHostPort({ host: remoteAddress, port: remotePort });
}

function outcomeOf(error: unknown, cutByDrain: boolean): ConnectionOutcome {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ZC_ERR_IDLE_TIMEOUT') return 'idle-timeout';
  if (cutByDrain) return 'drain-deadline';
  if (code !== undefined && PEER_GONE.has(code)) return 'reset';
  return 'error';
}

/**
 * A listening TCP proxy. Create it with `createProxy()`, start it with
 * `listen()`, stop it with `close()`. Every accepted connection is relayed
 * to one upstream until both directions have ended; both sockets belong to
 * the proxy and are destroyed when the relay ends.
 */
export class TcpProxy {
  private readonly settings: ProxySettings;
  private readonly server: net.Server;
  private readonly upstreams: RoundRobin;
  private readonly live = new Set<LiveConnection>();
  private nextId = 0;
  private closing: Promise<DrainResult> | undefined;
  private deadlineAt = Infinity;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private wakeDrain: (() => void) | undefined;

  constructor(options: ProxyOptions) {
    this.settings = checkProxyOptions(options);
    this.upstreams = new RoundRobin(this.settings.upstreams, this.settings.failTimeoutMs);
    // pauseOnConnect: Node never reads the client, so its bytes wait in the
    // kernel for splice while we dial (relay forwards anything Node read).
    // noDelay: Nagle off, as HAProxy and Go do on proxied sockets.
    this.server = net.createServer({ pauseOnConnect: true, noDelay: true });
    this.server.on('connection', (client: net.Socket) => void this.handle(client));
    const limit = this.settings.maxConnections;
    if (limit !== undefined) {
      // Node closes connections over the limit right after accept and emits
      // 'drop' (HAProxy's maxconn leaves them in the accept queue instead).
      this.server.maxConnections = limit;
      this.server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
        const client = data?.remoteAddress !== undefined && data.remotePort !== undefined
          ? formatHostPort({ host: data.remoteAddress, port: data.remotePort })
          : '-';
        this.log({ event: 'rejected', time: new Date().toISOString(), client, reason: 'max-connections', limit });
      });
    }
    // accept(2) failures (EMFILE, ENFILE) are reported, not fatal: libuv
    // keeps listening, as HAProxy does when it runs out of fds.
    this.server.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.server.listening) return; // listen() reports its own failures
      this.log({ event: 'accept-error', time: new Date().toISOString(), error: error.code ?? error.message });
    });
  }

  /** Starts listening; resolves with the bound address (the real port when 0 was asked). */
  listen(): Promise<net.AddressInfo> {
    const { host, port } = this.settings.listen;
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: this.settings.backlog }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** The bound address, or null before `listen()` and after `close()`. */
  address(): net.AddressInfo | null {
    return this.server.address() as net.AddressInfo | null;
  }

  /** Connections being dialed or relayed right now. */
  get connections(): number {
    return this.live.size;
  }

  /** The upstreams, in the configured order. */
  get upstreamList(): readonly HostPort[] {
    return this.settings.upstreams;
  }

  /**
   * Graceful stop (HAProxy's soft-stop, nginx's graceful shutdown): stops
   * accepting at once, lets live connections finish, and after `timeout` ms
   * cuts those still running. Resolves when every connection has ended and
   * the listener is closed. Calling it again returns the same promise; a
   * shorter `timeout` brings the deadline forward (a second SIGTERM).
   */
  close(options: CloseOptions = {}): Promise<DrainResult> {
    const timeoutMs = options.timeout;
    if (timeoutMs !== undefined) this.setDeadline(Date.now() + Math.max(0, timeoutMs));
    if (this.closing) return this.closing;
    const draining = [...this.live];
    const listenerClosed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    this.closing = (async () => {
      while (this.live.size > 0) await new Promise<void>((resolve) => (this.wakeDrain = resolve));
      this.wakeDrain = undefined;
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
      await listenerClosed;
      const aborted = draining.filter((c) => c.cutByDrain).length;
      return { finished: draining.length - aborted, aborted };
    })();
    return this.closing;
  }

  private setDeadline(at: number): void {
    if (at >= this.deadlineAt) return;
    this.deadlineAt = at;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => {
      for (const connection of this.live) {
        connection.cutByDrain = true;
        connection.controller.abort();
      }
    }, at - Date.now());
    // Live sockets keep the process up while there is something to cut;
    // the timer alone must not (a late close() call after the drain).
    this.deadlineTimer.unref();
  }

  private log(record: ProxyLogRecord): void {
    this.settings.onLog(record);
  }

  private async handle(client: net.Socket): Promise<void> {
    const started = performance.now();
    const id = ++this.nextId;
    const connection: LiveConnection = { controller: new AbortController(), cutByDrain: false };
    this.live.add(connection);
    client.on('error', ignoreError);
    const clientName = remoteName(client);
    const base = { event: 'connection' as const, id, client: clientName };
    let dialed: Dialed | undefined;
    let connectMs: number | null = null;
    let method: 'splice' | 'copy' | null = null;
    let copyReason: RelayCopyReason | undefined;
    let toUpstream = 0;
    let toClient = 0;
    let copied = 0;
    let outcome: ConnectionOutcome = 'closed';
    let errorCode: string | undefined;
    let failedUpstreams: string[] = [];
    const signal = connection.controller.signal;
    try {
      // A header must describe the connection as accepted; read the
      // addresses now, while Node still has them.
      const header = this.settings.proxyProtocol ? formatProxyHeader(this.settings.proxyProtocol, endpointsOfAccepted(client)) : undefined;
      try {
        dialed = await dialFirstAvailable(this.upstreams.nextOrder(), { timeoutMs: this.settings.connectTimeoutMs, signal });
        for (const attempt of dialed.failed) this.upstreams.reportFailure(attempt.upstream);
        this.upstreams.reportSuccess(dialed.upstream);
      } catch (error) {
        const attempts = (error as Partial<NoUpstreamError>).attempts;
        for (const attempt of attempts ?? []) this.upstreams.reportFailure(attempt.upstream);
        if (attempts) {
          failedUpstreams = attempts.map(describeAttempt);
          outcome = 'no-upstream';
          errorCode = 'ZC_ERR_NO_UPSTREAM';
          this.log({ event: 'upstreams-down', time: new Date().toISOString(), id, client: clientName, tried: failedUpstreams });
        } else {
          outcome = outcomeOf(error, connection.cutByDrain);
          errorCode = (error as NodeJS.ErrnoException).code;
        }
        return;
      }
      connectMs = performance.now() - started;
      failedUpstreams = dialed.failed.map(describeAttempt);
      // Node writes the header now (or queues it); relay() waits until
      // Node's queue is flushed before the kernel writes, so the header
      // always reaches the upstream before any relayed byte.
      if (header) dialed.socket.write(header);
      try {
        const result = await relay(client, dialed.socket, {
          signal,
          idleTimeout: this.settings.idleTimeoutMs,
          method: this.settings.method,
          pipePool: this.settings.pipePool,
          onStart: (start) => {
            method = start.method;
            copyReason = start.copyReason;
          },
        });
        toUpstream = result.aToB;
        toClient = result.bToA;
        copied = result.bytesCopied;
      } catch (error) {
        const relayError = error as RelayError & NodeJS.ErrnoException;
        toUpstream = relayError.aToB ?? 0;
        toClient = relayError.bToA ?? 0;
        outcome = outcomeOf(error, connection.cutByDrain);
        errorCode = relayError.code;
      }
    } finally {
      // relay() destroys both when it runs; this covers every path where it
      // did not (no upstream, a socket gone before the relay began).
      client.destroy();
      dialed?.socket.destroy();
      this.live.delete(connection);
      const record: ConnectionRecord = {
        ...base,
        time: new Date().toISOString(),
        upstream: dialed ? formatHostPort(dialed.upstream) : null,
        failedUpstreams,
        toUpstream,
        toClient,
        copied,
        durationMs: performance.now() - started,
        connectMs,
        method,
        ...(copyReason ? { copyReason } : {}),
        outcome,
        ...(errorCode ? { error: errorCode } : {}),
      };
      this.log(record);
      this.wakeDrain?.();
    }
  }
}

/**
 * Creates a TCP proxy (not yet listening: call `listen()`). Each client is
 * relayed to the next upstream in round-robin order; when it refuses or does
 * not answer within `connectTimeout`, the next one is tried, and when none
 * does the client is closed and an 'upstreams-down' record is logged. Bytes
 * move in the kernel (splice through pooled pipes) unless the relay has to
 * copy, which each connection's log record states. Throws ZC_ERR_INVALID_ARG
 * or ZC_ERR_OUT_OF_RANGE for bad options.
 */
export function createProxy(options: ProxyOptions): TcpProxy {
  return new TcpProxy(options);
}
