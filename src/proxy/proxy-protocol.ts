/**
 * PROXY protocol headers (HAProxy's doc/proxy-protocol.txt), sent to the
 * upstream before any relayed byte so it sees the client's address instead
 * of the proxy's. Pure functions: addresses in, header bytes out.
 *
 * Version 1, one line of text (§2.1):
 *
 *   PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n
 *         ^    ^ source    ^ destination ^     ^ destination port
 *         |                              source port
 *         TCP4 | TCP6 | UNKNOWN
 *
 * Version 2, binary (§2.2), here TCP over IPv4:
 *
 *   0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a   signature "\r\n\r\n\0\r\nQUIT\n"
 *   21                                    version 2, command PROXY (0x20 LOCAL)
 *   11                                    AF_INET + STREAM (0x21 AF_INET6, 0x00 UNSPEC)
 *   00 0c                                 address block length (12; 36 for IPv6), big endian
 *   ac 13 00 01  ac 13 00 03              source, destination address
 *   a6 52  00 50                          source, destination port (42578, 80)
 */
import net from 'node:net';

import { createError } from '../errors.js';

/** One side of the client's connection, as Node reports it. */
export interface ProxyAddress {
  address: string;
  port: number;
}

/** The connection the header describes: the client, and the address it connected to. */
export interface ProxyEndpoints {
  source: ProxyAddress;
  destination: ProxyAddress;
}

export type ProxyProtocolVersion = 1 | 2;

/** The fixed first 12 bytes of every version 2 header (§2.2). */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Signature, version/command, family/protocol, 2-byte length. */
const V2_FIXED_BYTES = 16;
const V2_VERSION_PROXY = 0x21;
const V2_VERSION_LOCAL = 0x20;
const V2_TCP_OVER_IPV4 = 0x11;
const V2_TCP_OVER_IPV6 = 0x21;
const V2_UNSPEC = 0x00;
const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const PORT_BYTES = 2;

type Family = 4 | 6;

/** Strips an IPv6 zone (`fe80::1%eth0`): the header has no field for it. */
function withoutZone(address: string): string {
  const percent = address.indexOf('%');
  return percent < 0 ? address : address.slice(0, percent);
}

function familyOf(address: string): Family | undefined {
  const bare = withoutZone(address);
  if (net.isIPv4(bare)) return 4;
  if (net.isIPv6(bare)) return 6;
  return undefined;
}

function isPort(port: unknown): port is number {
  return Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65535;
}

/**
 * The family the header uses: TCP4 only when both ends are IPv4; when one is
 * IPv6, the IPv4 one is written as an IPv4-mapped IPv6 address (as HAProxy's
 * make_proxy_line does); undefined when an address is not IP (UNKNOWN/LOCAL).
 */
function headerFamily(endpoints: ProxyEndpoints | undefined): Family | undefined {
  if (!endpoints) return undefined;
  const { source, destination } = endpoints;
  if (!isPort(source.port) || !isPort(destination.port)) return undefined;
  const a = familyOf(source.address);
  const b = familyOf(destination.address);
  if (a === undefined || b === undefined) return undefined;
  return a === 4 && b === 4 ? 4 : 6;
}

/** The address as the header's family writes it (v4 → ::ffff:a.b.c.d inside TCP6). */
function addressIn(family: Family, address: string): string {
  const bare = withoutZone(address);
  return family === 6 && net.isIPv4(bare) ? `::ffff:${bare}` : bare;
}

/**
 * A version 1 header line. Addresses that are not IP (or no endpoints at
 * all) give `PROXY UNKNOWN\r\n`, which receivers accept and then use the
 * real connection's addresses (§2.1).
 */
export function formatProxyV1(endpoints: ProxyEndpoints | undefined): Buffer {
  const family = headerFamily(endpoints);
  if (family === undefined || !endpoints) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const { source, destination } = endpoints;
  const line = `PROXY TCP${family} ${addressIn(family, source.address)} ${addressIn(family, destination.address)} ` +
    `${source.port} ${destination.port}\r\n`;
  return Buffer.from(line, 'latin1');
}

/** The 4 bytes of a dotted IPv4 literal, network order. */
function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

/**
 * The 16 bytes of an IPv6 literal (RFC 4291 §2.2 text forms: `::`
 * compression and a trailing dotted IPv4 part). Throws ZC_ERR_INVALID_ARG
 * for anything `net.isIPv6` rejects.
 */
export function ipv6Bytes(text: string): Buffer {
  const address = withoutZone(text);
  if (!net.isIPv6(address)) throw createError('ZC_ERR_INVALID_ARG', ['address', 'an IPv6 address', text]);
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a, b, c, d] = ipv4Bytes(piece) as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else {
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const gap = address.indexOf('::');
  const head = toGroups(gap < 0 ? address : address.slice(0, gap));
  const tail = gap < 0 ? [] : toGroups(address.slice(gap + 2));
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = Buffer.alloc(IPV6_BYTES);
  groups.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

function addressBytes(family: Family, address: string): Buffer {
  const text = addressIn(family, address);
  return family === 4 ? Buffer.from(ipv4Bytes(text)) : ipv6Bytes(text);
}

/**
 * A version 2 header: command PROXY with TCP over IPv4 or IPv6, or, when the
 * addresses are not IP, command LOCAL with family UNSPEC and no address
 * block (§2.2: receivers then use the real connection's addresses). No TLVs.
 */
export function formatProxyV2(endpoints: ProxyEndpoints | undefined): Buffer {
  const family = headerFamily(endpoints);
  if (family === undefined || !endpoints) {
    const header = Buffer.alloc(V2_FIXED_BYTES);
    PROXY_V2_SIGNATURE.copy(header);
    header[12] = V2_VERSION_LOCAL;
    header[13] = V2_UNSPEC;
    return header; // length bytes stay 0
  }
  const addressLength = family === 4 ? IPV4_BYTES : IPV6_BYTES;
  const blockLength = 2 * addressLength + 2 * PORT_BYTES;
  const header = Buffer.alloc(V2_FIXED_BYTES + blockLength);
  PROXY_V2_SIGNATURE.copy(header);
  header[12] = V2_VERSION_PROXY;
  header[13] = family === 4 ? V2_TCP_OVER_IPV4 : V2_TCP_OVER_IPV6;
  header.writeUInt16BE(blockLength, 14);
  let at = V2_FIXED_BYTES;
  at += addressBytes(family, endpoints.source.address).copy(header, at);
  at += addressBytes(family, endpoints.destination.address).copy(header, at);
  at = header.writeUInt16BE(endpoints.source.port, at);
  header.writeUInt16BE(endpoints.destination.port, at);
  return header;
}

/** The header of `version` for these endpoints. */
export function formatProxyHeader(version: ProxyProtocolVersion, endpoints: ProxyEndpoints | undefined): Buffer {
  return version === 2 ? formatProxyV2(endpoints) : formatProxyV1(endpoints);
}

/**
 * What an accepted socket says about its connection: the client's address
 * and port (source) and the local address it reached (destination).
 * Undefined when Node no longer knows them (the socket already closed).
 */
export function endpointsOfAccepted(socket: net.Socket): ProxyEndpoints | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) {
    return undefined;
  }
  return { source: { address: remoteAddress, port: remotePort }, destination: { address: localAddress, port: localPort } };
}
