/**
 * Dialing upstreams: one TCP connect bounded by a timeout, and a walk through
 * the failover order until one accepts.
 */
import net from 'node:net';

import { createAbortError, createError, ignoreError, type ZeroCopyError } from '../errors.js';
import { formatHostPort, type HostPort } from './upstreams.js';

export interface DialOptions {
  /** Give up on one upstream after this many ms (0 or undefined: wait for the kernel, ~2 min of SYN retries). */
  timeoutMs?: number | undefined;
  /** Aborts the dial in progress; no further upstream is tried. */
  signal?: AbortSignal | undefined;
}

/** One upstream that did not accept, and why. */
export interface DialAttempt {
  upstream: HostPort;
  error: Error;
}

/** The error when every upstream failed: ZC_ERR_NO_UPSTREAM with each attempt. */
export interface NoUpstreamError extends ZeroCopyError {
  attempts: DialAttempt[];
}

/** A connected upstream. */
export interface Dialed {
  socket: net.Socket;
  upstream: HostPort;
  /** Upstreams tried before this one, in order, with their errors. */
  failed: DialAttempt[];
}


/** `ECONNREFUSED`, `ZC_ERR_CONNECT_TIMEOUT`, …: what a log line shows for a failed attempt. */
export function describeAttempt({ upstream, error }: DialAttempt): string {
  return `${formatHostPort(upstream)} ${(error as NodeJS.ErrnoException).code ?? error.message}`;
}

/**
 * Connects to `upstream` with Nagle off (TCP_NODELAY, as HAProxy and Go set
 * on every proxied connection, so small interactive messages are not held
 * back). Resolves the connected socket, which the caller then owns; it keeps
 * a no-op 'error' listener, because its errors surface through whatever
 * uses it next (the relay sees them from its syscalls). On failure, timeout
 * (ZC_ERR_CONNECT_TIMEOUT) or abort, the socket is destroyed before the
 * promise rejects, so nothing is left open.
 */
export function dial(upstream: HostPort, options: DialOptions = {}): Promise<net.Socket> {
  const { timeoutMs, signal } = options;
  if (signal?.aborted) return Promise.reject(createAbortError(signal));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: upstream.host, port: upstream.port, noDelay: true });
    let timer: NodeJS.Timeout | undefined;
    const settle = (error: Error | undefined) => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      socket.on('error', ignoreError);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve(socket);
      }
    };
    const onConnect = () => settle(undefined);
    const onError = (error: Error) => settle(error);
    const onAbort = () => settle(createAbortError(signal));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs) {
      timer = setTimeout(() => settle(createError('ZC_ERR_CONNECT_TIMEOUT', [formatHostPort(upstream), timeoutMs])), timeoutMs);
    }
  });
}

/**
 * Tries `order` one upstream at a time, each with the full connect timeout
 * (HAProxy's `timeout connect` applies per attempt; Go's dialSerial instead
 * splits one deadline across addresses), until one accepts. Rejects with
 * ZC_ERR_NO_UPSTREAM (carrying `attempts`) when none does, or with the
 * AbortError when `signal` aborts.
 */
export async function dialFirstAvailable(order: readonly HostPort[], options: DialOptions = {}): Promise<Dialed> {
  const failed: DialAttempt[] = [];
  for (const upstream of order) {
    try {
      return { socket: await dial(upstream, options), upstream, failed };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      failed.push({ upstream, error: error as Error });
    }
  }
  const error = createError('ZC_ERR_NO_UPSTREAM', [failed.map(describeAttempt).join(', ')]) as NoUpstreamError;
  error.attempts = failed;
  throw error;
}
