/**
 * Taking a net.Socket's reading away from Node, so the kernel can move its
 * bytes instead: Node stops reading, and whatever it had already read into
 * its own buffer is handed back to be forwarded first.
 */
import type net from 'node:net';

interface StreamHandle {
  reading?: boolean;
  readStop?: () => number;
}

function stopHandleReading(socket: net.Socket): void {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (!handle || typeof handle.readStop !== 'function') return;
  // pause() alone does not stop libuv from reading for plain sockets (it only
  // stops 'data' events), so the handle is told directly. `reading` is the
  // flag net.Socket consults before calling readStart again.
  handle.reading = false;
  handle.readStop();
}

/**
 * Stops Node from reading `socket` and returns the bytes it had buffered but
 * not yet delivered. After this, bytes arriving stay in the kernel for
 * splice. `socket.resume()` hands reading back to Node.
 */
export function takeOverReading(socket: net.Socket): Buffer[] {
  socket.pause();
  stopHandleReading(socket);
  const chunks: Buffer[] = [];
  while (socket.readableLength > 0) {
    const chunk = socket.read() as Buffer | string | null;
    if (chunk === null) break;
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  // read() may have asked the handle to start reading again to refill the
  // buffer; stop it once more, and clear the stream's "read pending" flag
  // so a later resume() calls readStart instead of waiting forever.
  stopHandleReading(socket);
  const state = (socket as unknown as { _readableState?: { reading?: boolean } })._readableState;
  if (state) state.reading = false;
  return chunks;
}

/** Writes `data` through Node and resolves once it reached the kernel. */
export function writeThroughNode(socket: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (error) => (error ? reject(error) : resolve()));
  });
}
