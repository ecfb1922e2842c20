/**
 * Real TCP connections on 127.0.0.1 for tests.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';

export interface SocketPair {
  /** The accepted (server) side. */
  server: net.Socket;
  /** The connecting (client) side. */
  client: net.Socket;
  close(): void;
}

/** A listening loopback server for `connectPair`. */
export async function listenLoopback(options: { pauseOnConnect?: boolean } = {}): Promise<net.Server> {
  const listener = net.createServer({ pauseOnConnect: options.pauseOnConnect ?? false });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  return listener;
}

/**
 * A connected pair over loopback. `pauseOnConnect` leaves the server side
 * unread by Node. With `listener` (from listenLoopback), the only fds this
 * allocates are the two sockets: the client's is created first.
 */
export async function connectPair(
  options: { pauseOnConnect?: boolean; listener?: net.Server; clientAllowHalfOpen?: boolean } = {},
): Promise<SocketPair> {
  const listener = options.listener ?? (await listenLoopback(options));
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: options.clientAllowHalfOpen ?? false });
  const [[server]] = await Promise.all([accepted, once(client, 'connect')]);
  listener.close();
  return {
    server,
    client,
    close() {
      server.destroy();
      client.destroy();
    },
  };
}

export interface Received {
  bytes: number;
  sha256: string;
  /** How the stream ended: 'end' (clean EOF), 'close' or 'error'. */
  ending: string;
  error?: Error;
}

export interface CollectOptions {
  /** Read at most this many bytes per second (pausing the socket in between). */
  bytesPerSecond?: number;
  /** Destroy the socket once this many bytes arrived (simulates a client going away). */
  destroyAfterBytes?: number;
  /** Keep the data (for small transfers), in `data`. */
  keep?: boolean;
}

/** Reads a socket to its end, hashing what arrives. */
export function collect(socket: net.Socket, options: CollectOptions = {}): Promise<Received & { data?: Buffer }> {
  const hash = crypto.createHash('sha256');
  const kept: Buffer[] = [];
  let bytes = 0;
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (ending: string, error?: Error) => {
      if (done) return;
      done = true;
      resolve({
        bytes,
        sha256: hash.digest('hex'),
        ending,
        ...(error ? { error } : {}),
        ...(options.keep ? { data: Buffer.concat(kept) } : {}),
      });
    };
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (options.keep) kept.push(chunk);
      if (options.destroyAfterBytes !== undefined && bytes >= options.destroyAfterBytes) {
        socket.destroy();
        finish('destroyed');
        return;
      }
      if (options.bytesPerSecond) {
        const due = (bytes / options.bytesPerSecond) * 1000 - (Date.now() - started);
        if (due > 5) {
          socket.pause();
          setTimeout(() => socket.resume(), due);
        }
      }
    });
    socket.once('end', () => finish('end'));
    socket.once('error', (error) => finish('error', error));
    socket.once('close', () => finish('close'));
  });
}

/** Writes `size` pseudo-random bytes in chunks, honouring backpressure; resolves their sha256. */
export async function pump(socket: net.Socket, size: number, seed: number): Promise<string> {
  const hash = crypto.createHash('sha256');
  const block = crypto.createHash('sha512').update(String(seed)).digest();
  const chunk = Buffer.alloc(256 * 1024);
  for (let i = 0; i < chunk.length; i += block.length) block.copy(chunk, i);
  for (let sent = 0, n = 0; sent < size; n++) {
    const piece = Buffer.from(chunk.subarray(0, Math.min(chunk.length, size - sent)));
    if (piece.length >= 4) piece.writeUInt32LE(n, 0);
    hash.update(piece);
    sent += piece.length;
    if (!socket.write(piece)) await once(socket, 'drain');
  }
  return hash.digest('hex');
}
