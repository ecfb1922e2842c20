/**
 * What stops a running transfer from outside: an AbortSignal, the socket
 * closing (the job holds a dup, so Node closing its fd does not stop the
 * kernel from sending: FEASIBILITY §3), and inactivity. Also keeps Node's
 * socket idle timeout honest, since native writes never refresh it.
 */
import type net from 'node:net';

export type CancelReason = 'aborted' | 'socket-closed' | 'idle-timeout';

export interface GuardOptions {
  signal?: AbortSignal | undefined;
  /** Sockets whose 'close' cancels the transfer and whose timeouts are emulated. */
  sockets?: net.Socket[];
  /** Cancel after this long without a byte moving (0/undefined: never). */
  idleTimeoutMs?: number | undefined;
  /** Total bytes moved so far; polled only by timers. */
  progress: () => number;
  cancel: () => void;
}

interface SuspendedTimeout {
  socket: net.Socket;
  timeoutMs: number;
  lastProgress: number;
  timer: NodeJS.Timeout;
}

/**
 * Watches one transfer until `dispose()`. `reason` says why it canceled it.
 *
 * Socket timeouts: Node's idle timer sees no activity while the kernel sends
 * on our dup, so `socket.setTimeout(ms)` would fire mid-transfer. The guard
 * switches it off, emits 'timeout' itself only when no byte moved for `ms`,
 * and restores (and so refreshes) the timer at the end.
 */
export class TransferGuard {
  reason: CancelReason | undefined;
  /** The socket whose 'close' canceled the transfer (reason 'socket-closed'). */
  closedSocket: net.Socket | undefined;
  private readonly options: GuardOptions;
  private readonly onAbort = () => this.trip('aborted');
  private readonly onClose = () => {
    const closed = this.options.sockets?.find((socket) => socket.destroyed);
    if (this.reason === undefined && !this.disposed) this.closedSocket = closed;
    this.trip('socket-closed');
  };
  private readonly suspended: SuspendedTimeout[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private idleProgress = -1;
  private disposed = false;

  constructor(options: GuardOptions) {
    this.options = options;
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    for (const socket of options.sockets ?? []) {
      socket.once('close', this.onClose);
      this.suspendTimeout(socket);
    }
    if (options.idleTimeoutMs) this.armIdleTimer(options.idleTimeoutMs);
    if (options.signal?.aborted) this.trip('aborted');
    if (options.sockets?.some((socket) => socket.destroyed)) this.onClose();
  }

  private trip(reason: CancelReason): void {
    if (this.reason !== undefined || this.disposed) return;
    this.reason = reason;
    this.options.cancel();
  }

  private armIdleTimer(ms: number): void {
    this.idleTimer = setInterval(() => {
      const now = this.options.progress();
      if (now === this.idleProgress) this.trip('idle-timeout');
      this.idleProgress = now;
    }, ms);
    this.idleTimer.unref();
  }

  private suspendTimeout(socket: net.Socket): void {
    const timeoutMs = socket.timeout;
    if (!timeoutMs || timeoutMs <= 0) return;
    socket.setTimeout(0);
    const entry: SuspendedTimeout = {
      socket,
      timeoutMs,
      lastProgress: this.options.progress(),
      timer: setInterval(() => {
        const now = this.options.progress();
        // Like Node: 'timeout' is a notification; whoever listens decides
        // (http.Server destroys the socket, which cancels us via 'close').
        if (now === entry.lastProgress) socket.emit('timeout');
        entry.lastProgress = now;
      }, timeoutMs),
    };
    entry.timer.unref();
    this.suspended.push(entry);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    for (const socket of this.options.sockets ?? []) socket.off('close', this.onClose);
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const { socket, timeoutMs, timer } of this.suspended) {
      clearInterval(timer);
      if (!socket.destroyed) socket.setTimeout(timeoutMs);
    }
  }
}
