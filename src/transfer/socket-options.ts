/**
 * Socket options a caller sets around a kernel transfer on a TCP socket. For
 * now TCP_CORK, which the HTTP layer uses to let a head written through
 * Node and the first bytes of a sendfile body share a segment (write-body.ts,
 * headerMode 'cork').
 */
import type net from 'node:net';

import { getNative } from '../native/capabilities.js';
import { socketFd } from './endpoint.js';

interface CorkableBinding {
  setCork(fd: number, on: number): number;
}

/**
 * Sets (true) or clears (false) TCP_CORK on `socket` (a net.Socket, or the
 * fd of a TCP socket the caller owns). While set, the kernel holds partial
 * segments until they fill or the option is cleared, for up to 200 ms: clear
 * it as soon as the burst is written. Returns true when the option was
 * applied; false when it could not be (no native addon, a socket without an
 * fd, or the kernel refused: ENOTSOCK, EOPNOTSUPP on a non-TCP socket,
 * EBADF on a closed one). Never throws: corking only shapes segments, so a
 * caller carries on either way.
 */
export function setTcpCork(socket: net.Socket | number, on: boolean): boolean {
  const native = getNative() as CorkableBinding | null;
  const fd = typeof socket === 'number' ? socket : socketFd(socket);
  if (native === null || fd === undefined) return false;
  return native.setCork(fd, on ? 1 : 0) >= 0;
}
