/**
 * `--listen` as users of other servers type it, for `serve` and `proxy`:
 *
 *   8080                    127.0.0.1:8080 (a bare port stays on this machine)
 *   0.0.0.0:8080            host:port
 *   :8080                   every interface (IPv6 and IPv4)
 *   [::1]:8080              IPv6 in brackets
 *   tcp://0.0.0.0:8080      the same with a scheme (Docker, systemd style)
 *
 * and the URLs a listening server answers on: for a wildcard address, one per
 * interface address, loopback first, so the first URL always works locally.
 */
import net from 'node:net';
import os from 'node:os';

/** Where to listen. `host` '' means every interface. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** What `parseListenAddress` accepts, for messages. */
export const LISTEN_FORMS = 'PORT, HOST:PORT, [IPv6]:PORT or tcp://HOST:PORT';

/** Where a bare port listens: this machine only, as `serve` does by default. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';

const MAX_PORT = 65535;

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= MAX_PORT ? port : undefined;
}

/**
 * Parses one `--listen` value; returns undefined when it is none of the
 * forms above (the caller words the usage error). Port 0 is allowed: the
 * kernel picks a free one.
 */
export function parseListenAddress(input: string): ListenAddress | undefined {
  const text = input.trim().replace(/^tcp:\/\//i, '').replace(/\/$/, '');
  const bare = parsePort(text);
  if (bare !== undefined) return { host: DEFAULT_LISTEN_HOST, port: bare };
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!net.isIPv6(host)) return undefined;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    // "::1:80" could be either; IPv6 needs its brackets.
    if (host.includes(':') || /[\s/]/.test(host)) return undefined;
  }
  const port = parsePort(portText);
  return port === undefined ? undefined : { host, port };
}

/** `host:port`, with IPv6 in brackets: the form messages and logs use. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for the addresses that mean "every interface". */
export function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

/**
 * The hosts a server bound to `host` answers on. A wildcard gives every
 * interface address of the families it covers ('0.0.0.0': IPv4; '::' and '':
 * both, Linux's dual-stack default), loopback first; IPv6 link-local
 * addresses are left out (a URL needs their zone). Anything else is itself.
 */
export function reachableHosts(host: string, interfaces = os.networkInterfaces()): string[] {
  if (!isWildcardHost(host)) return [host];
  const ipv6 = host !== '0.0.0.0';
  const found: Array<{ address: string; internal: boolean; v6: boolean }> = [];
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) {
      const v6 = info.family === 'IPv6' || (info.family as unknown) === 6;
      if (v6 && (!ipv6 || /^fe80:/i.test(info.address))) continue;
      found.push({ address: info.address, internal: info.internal, v6 });
    }
  }
  found.sort((a, b) => Number(b.internal) - Number(a.internal) || Number(a.v6) - Number(b.v6));
  const hosts = [...new Set(found.map((entry) => entry.address))];
  return hosts.length > 0 ? hosts : [ipv6 ? '::1' : '127.0.0.1'];
}

/** `http://127.0.0.1:8080/`, `https://[::1]:8443/`. */
export function formatUrl(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${formatHostPort(host, port)}/`;
}
