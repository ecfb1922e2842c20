/**
 * Addresses the proxy listens on and relays to: parsing `host:port` lists
 * and choosing which upstream each new connection tries first.
 *
 *   127.0.0.1:9000               IPv4 literal or a name, then the port
 *   [::1]:9000                   IPv6 literals in brackets (RFC 3986 §3.2.2)
 *   a:9000,b:9000,[::1]:9001     a list: round-robin with failover
 *   :8080                        listen only: every interface
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

import { createError } from '../errors.js';

/** A TCP endpoint; `host` is a name or an IP literal without brackets. */
export interface HostPort {
  host: string;
  port: number;
}

const MAX_PORT = 65535;

function parsePort(text: string, input: string, name: string, allowZero: boolean): number {
  // Digits only: Number('0x50') or Number(' 80') would be accepted otherwise.
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  const min = allowZero ? 0 : 1;
  if (!(port >= min && port <= MAX_PORT)) {
    throw createError('ZC_ERR_INVALID_ARG', [name, `HOST:PORT with a port from ${min} to ${MAX_PORT}`, input]);
  }
  return port;
}

/**
 * Parses one `host:port` (`[v6]:port` for IPv6). With `allowEmptyHost` (for
 * listening), `:port` gives host '' (every interface) and port 0 is allowed
 * (the kernel picks one). Throws ZC_ERR_INVALID_ARG naming `name`.
 */
export function parseHostPort(input: string, name = 'address', options: { allowEmptyHost?: boolean } = {}): HostPort {
  if (typeof input !== 'string') throw createError('ZC_ERR_INVALID_ARG', [name, 'a HOST:PORT string', input]);
  const text = input.trim();
  const expected = 'HOST:PORT (IPv6 as [ADDRESS]:PORT)';
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') throw createError('ZC_ERR_INVALID_ARG', [name, expected, input]);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!net.isIPv6(host)) throw createError('ZC_ERR_INVALID_ARG', [name, 'an IPv6 address inside [ ]', input]);
  } else {
    const colon = text.lastIndexOf(':');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    // An unbracketed IPv6 literal is ambiguous: "::1:80" could be either.
    if (colon < 0 || host.includes(':')) throw createError('ZC_ERR_INVALID_ARG', [name, expected, input]);
  }
  const allowEmpty = options.allowEmptyHost === true;
  if (host === '' && !allowEmpty) throw createError('ZC_ERR_INVALID_ARG', [name, `${expected} with a host`, input]);
  return { host, port: parsePort(portText, input, name, allowEmpty) };
}

/** Parses `a:1,b:2` (or an array of strings and HostPorts) into a non-empty list. */
export function parseUpstreams(input: string | ReadonlyArray<string | HostPort>, name = 'upstream'): HostPort[] {
  const items = typeof input === 'string' ? input.split(',') : Array.isArray(input) ? input : undefined;
  if (items === undefined) throw createError('ZC_ERR_INVALID_ARG', [name, 'HOST:PORT[,HOST:PORT...] or an array of them', input]);
  const upstreams = items.map((item) => {
    if (typeof item === 'string') return parseHostPort(item, name);
    if (typeof item === 'object' && item !== null && typeof item.host === 'string' && item.host !== '') {
      return parseHostPort(formatHostPort(item), name);
    }
    throw createError('ZC_ERR_INVALID_ARG', [name, 'HOST:PORT strings or { host, port } objects', item]);
  });
  if (upstreams.length === 0) throw createError('ZC_ERR_INVALID_ARG', [name, 'at least one HOST:PORT', input]);
  return upstreams;
}

/** `{ host: '::1', port: 80 }` → `[::1]:80`: the form `parseHostPort` reads back. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Round-robin over a fixed list of upstreams, like HAProxy's `balance
 * roundrobin` without weights. Each call to `nextOrder()` starts one place
 * further along and returns every upstream once: the first is this
 * connection's choice, the rest are the failover order (HAProxy's `option
 * redispatch`, where a retry goes to another server).
 *
 * Passive failure tracking, like nginx's `max_fails=1 fail_timeout`: an
 * upstream whose connect failed goes to the back of the order for
 * `failTimeoutMs`, so a dead or black-holed upstream costs one connect
 * timeout per window rather than one in every N connections. It is demoted,
 * never skipped: when every upstream has failed recently, all are still
 * tried, and one that accepts again is restored at once.
 */
export class RoundRobin {
  private readonly upstreams: readonly HostPort[];
  private readonly failTimeoutMs: number;
  /** performance.now() until which an upstream stays demoted. */
  private readonly demotedUntil = new Map<HostPort, number>();
  private cursor = 0;

  constructor(upstreams: readonly HostPort[], failTimeoutMs = 0) {
    if (upstreams.length === 0) throw createError('ZC_ERR_INVALID_ARG', ['upstreams', 'at least one upstream', upstreams]);
    this.upstreams = upstreams;
    this.failTimeoutMs = failTimeoutMs;
  }

  /** The order to try for the next connection: all upstreams, rotated, recently failed ones last. */
  nextOrder(now = performance.now()): HostPort[] {
    const start = this.cursor;
    this.cursor = (this.cursor + 1) % this.upstreams.length;
    const rotated = this.upstreams.map((_, i) => this.upstreams[(start + i) % this.upstreams.length]!);
    if (this.demotedUntil.size === 0) return rotated;
    const demoted = (upstream: HostPort) => (this.demotedUntil.get(upstream) ?? 0) > now;
    return [...rotated.filter((u) => !demoted(u)), ...rotated.filter(demoted)];
  }

  /** A connect to `upstream` (one of this list's objects) failed. */
  reportFailure(upstream: HostPort, now = performance.now()): void {
    if (this.failTimeoutMs > 0) this.demotedUntil.set(upstream, now + this.failTimeoutMs);
  }

  /** A connect to `upstream` succeeded. */
  reportSuccess(upstream: HostPort): void {
    this.demotedUntil.delete(upstream);
  }
}
