/**
 * Turning what callers pass (net.Socket, fd, FileHandle, path) into a file
 * descriptor plus what kind of file it is, which decides the kernel path:
 * sendfile needs a mmap-able source, splice needs a pipe on one side, and
 * only sockets and pipes can be waited on in epoll.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import net from 'node:net';
import util from 'node:util';

import { createAbortError, createError, type TransferErrorFields } from '../errors.js';
import { getNative } from '../native/capabilities.js';
import { createSystemError } from '../native/errno.js';

export type FdKind = 'file' | 'pipe' | 'socket' | 'other';

/** A destination. `socket` is set when the caller passed a net.Socket. */
export interface Target {
  fd: number;
  kind: FdKind | 'tls';
  socket?: net.Socket;
}

/** A source. `close` releases what `openSource` opened (nothing for fds the caller owns). */
export interface Source {
  fd: number;
  kind: FdKind;
  path?: string;
  close(): Promise<void>;
}

export type SourceInput = string | URL | number | FileHandle;
export type TargetInput = net.Socket | number;

const EMPTY = Buffer.alloc(0);

export function kindOfStats(stats: fs.Stats): FdKind {
  if (stats.isFile() || stats.isBlockDevice()) return 'file';
  if (stats.isFIFO()) return 'pipe';
  if (stats.isSocket()) return 'socket';
  return 'other';
}

/**
 * fstat of an open fd: no path lookup, so it does not wait on the disk. The
 * addon answers with the mode bits alone; building an fs.Stats object was an
 * eighth of a small sendFile's CPU.
 */
export function kindOfFd(fd: number): FdKind {
  const native = getNative();
  if (native === null) return kindOfStats(fs.fstatSync(fd));
  const type = native.fileType(fd);
  if (type < 0) throw createSystemError(type, 'fstat', { fd });
  const c = native.constants;
  if (type === c.S_IFREG || type === c.S_IFBLK) return 'file';
  if (type === c.S_IFIFO) return 'pipe';
  if (type === c.S_IFSOCK) return 'socket';
  return 'other';
}

export function assertFd(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw createError('ZC_ERR_INVALID_ARG', [name, 'a file descriptor (an integer)', value]);
  }
  if (value < 0 || value > 0x7fffffff) {
    throw createError('ZC_ERR_OUT_OF_RANGE', [name, '>= 0 and <= 2147483647', value]);
  }
}

function isFileHandle(value: unknown): value is FileHandle {
  return typeof value === 'object' && value !== null && typeof (value as FileHandle).fd === 'number' &&
    typeof (value as FileHandle).stat === 'function';
}

/** The fd under a net.Socket, or undefined for TLS, pipes on Windows, destroyed sockets. */
export function socketFd(socket: net.Socket): number | undefined {
  // No public API exposes it (FEASIBILITY §2); `_handle.fd` is -1 before
  // connect and the handle is null after destroy.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * The error for a transfer whose socket is gone. A socket Node destroyed
 * because the peer reset it carries that error (`socket.errored`): the
 * transfer reports it as such (ECONNRESET, with errno and syscall), since a
 * reset peer must look the same whether Node or the kernel path noticed
 * first. A socket closed locally gives ZC_ERR_SOCKET_CLOSED.
 */
export function socketGoneError(socket: net.Socket | undefined, fields: TransferErrorFields = {}): Error {
  const cause = socket?.errored as NodeJS.ErrnoException | null | undefined;
  if (cause && typeof cause.errno === 'number' && typeof cause.code === 'string') {
    return createSystemError(cause.errno, cause.syscall ?? 'read', { ...fields, cause });
  }
  return createError('ZC_ERR_SOCKET_CLOSED', [], fields);
}

/**
 * The fd of `socket` right now, for a native job about to dup() it in this
 * same synchronous step. Never read earlier and kept across an await: Node
 * may close the socket meanwhile, and the number would then name whatever
 * opened next (another client's socket, a file).
 */
export function liveSocketFd(socket: net.Socket): number {
  const fd = socket.destroyed ? undefined : socketFd(socket);
  if (fd === undefined) throw socketGoneError(socket);
  return fd;
}

function isTls(socket: net.Socket): boolean {
  return (socket as unknown as { encrypted?: boolean }).encrypted === true;
}

/**
 * Waits for `start` to call back, for the socket to close (ZC_ERR_SOCKET_CLOSED)
 * or for `signal` to abort (AbortError), whichever comes first.
 */
function waitUnlessClosed(socket: net.Socket, signal: AbortSignal | undefined, start: (done: (error?: Error | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: Error | null) => {
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onClose = () => settle(socketGoneError(socket));
    const onAbort = () => settle(createAbortError(signal, { bytesWritten: 0 }));
    if (signal?.aborted) return onAbort();
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    start(settle);
  });
}

async function waitForConnect(socket: net.Socket, signal: AbortSignal | undefined): Promise<void> {
  if (!socket.connecting) return;
  await waitUnlessClosed(socket, signal, (done) => {
    socket.once('connect', () => done());
  });
}

/**
 * Waits until Node has handed every byte it queued on `socket` to the kernel,
 * so native writes cannot overtake them (headers before body). An abort ends
 * the wait (the queued bytes stay queued).
 */
export async function flushSocketWrites(socket: net.Socket, signal?: AbortSignal): Promise<void> {
  if (socket.writableLength === 0) return;
  // A corked socket holds writes until uncorked; we are about to write
  // natively, so release it.
  while (socket.writableCorked > 0) socket.uncork();
  if (socket.writableLength === 0) return;
  await waitUnlessClosed(socket, signal, (done) => {
    socket.write(EMPTY, done);
  });
}

/**
 * Resolves the destination of a transfer; for sockets, waits for connect and
 * flushes Node's queue. `signal` aborts either wait.
 */
export async function prepareTarget(out: TargetInput, name = 'out', signal?: AbortSignal): Promise<Target> {
  if (out instanceof net.Socket) {
    // An HTTP/2 response's `socket` is a Proxy of the whole session's socket
    // (and passes instanceof): bytes written to its fd would corrupt every
    // stream of the connection.
    if (util.types.isProxy(out)) throw createError('ZC_ERR_SOCKET_UNUSABLE', ['it is an HTTP/2 stream\'s proxy of the session socket; write through the response']);
    if (out.destroyed) throw socketGoneError(out);
    await waitForConnect(out, signal);
    if (isTls(out)) return { fd: -1, kind: 'tls', socket: out };
    if (!out.writable) throw createError('ZC_ERR_SOCKET_UNUSABLE', ['it is not writable (ended or closed)']);
    await flushSocketWrites(out, signal);
    const fd = socketFd(out);
    if (fd === undefined) {
      if (out.destroyed) throw socketGoneError(out);
      // Not a kernel socket we can reach (e.g. a stream-wrapped duplex): copy through Node.
      return { fd: -1, kind: 'tls', socket: out };
    }
    return { fd, kind: 'socket', socket: out };
  }
  assertFd(out, name);
  return { fd: out, kind: kindOfFd(out) };
}

/**
 * The same source on a dup() of its fd that the transfer owns and closes,
 * for transfers that make many calls over time (copy loops): a caller that
 * closes its fd or FileHandle meanwhile cannot redirect the later calls to
 * whatever file reuses the number. Sources the transfer opened itself, and
 * every source without the addon (Node has no dup), are returned as they are.
 */
export function holdOwnDescriptor(source: Source): Source {
  const native = getNative();
  if (source.path !== undefined || native === null) return source;
  const fd = native.dup(source.fd);
  if (fd < 0) throw createSystemError(fd, 'dup', { fd: source.fd });
  return { fd, kind: source.kind, close: () => new Promise<void>((resolve) => fs.close(fd, () => resolve())) };
}

/** Opens (for paths) or adopts (fds, FileHandles) the source of a transfer. */
export async function openSource(file: SourceInput, name = 'file'): Promise<Source> {
  if (typeof file === 'string' || file instanceof URL) {
    const handle = await fs.promises.open(file, 'r');
    try {
      const kind = kindOfStats(await handle.stat());
      return { fd: handle.fd, kind, path: String(file), close: () => handle.close() };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  if (isFileHandle(file)) {
    if (file.fd < 0) throw createError('ZC_ERR_INVALID_ARG', [name, 'an open FileHandle', 'a closed FileHandle']);
    return { fd: file.fd, kind: kindOfFd(file.fd), close: async () => {} };
  }
  if (typeof file !== 'number') {
    throw createError('ZC_ERR_INVALID_ARG', [name, 'a path, a file descriptor or a FileHandle', file]);
  }
  assertFd(file, name);
  return { fd: file, kind: kindOfFd(file), close: async () => {} };
}
