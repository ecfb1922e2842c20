/**
 * `--workers N`: one static server per core with node:cluster. The primary
 * only supervises (it serves nothing): it forks N workers that re-run the
 * same command, restarts a worker that dies, and on SIGINT/SIGTERM asks each
 * to shut down gracefully, killing stragglers after the deadline.
 *
 * Scheduling: SCHED_NONE, so each worker accepts on the shared listening
 * socket itself and the kernel spreads connections. Node's default on Linux
 * (SCHED_RR) makes the primary accept every connection and pass it over IPC,
 * one more process hop per connection for no benefit here (connections are
 * long-lived keep-alives; the primary would become the bottleneck for
 * short ones). Node 20 has no SO_REUSEPORT option for listen(); this is the
 * closest.
 */
import cluster, { type Worker } from 'node:cluster';

/** The message the primary sends a worker to start its graceful shutdown. */
export const SHUTDOWN_MESSAGE = 'zerocopy:shutdown';

/** A worker that dies sooner than this after starting counts as a crash loop. */
const CRASH_LOOP_WINDOW_MS = 5_000;
/** Restarts allowed per worker slot inside the window before the primary gives up. */
const MAX_QUICK_RESTARTS = 3;
/** Extra time the primary gives workers past their own shutdown deadline before SIGKILL. */
const KILL_GRACE_MS = 2_000;

/** Options of runPrimary. */
export interface PrimaryOptions {
  workers: number;
  /** The workers' graceful-shutdown deadline (they enforce it); the primary kills after it plus a grace. */
  shutdownTimeoutMs: number;
  /** Called once, when every worker listens, with the address of the first. */
  onListening?: (address: { address: string; port: number }) => void;
  /** Supervisor messages (restarts, shutdown). */
  onEvent?: (event: { type: string; worker?: number; code?: number | null; signal?: string | null }) => void;
}

/** True in a worker forked by `runPrimary`. */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/**
 * In a worker: calls `shutdown` (once) when the primary asks for it or the
 * worker itself gets SIGINT/SIGTERM (a terminal's Ctrl-C and `kill -- -PGID`
 * reach every process of the group).
 */
export function onWorkerShutdown(shutdown: (reason: string) => void): void {
  let called = false;
  const once = (reason: string) => {
    if (called) return;
    called = true;
    shutdown(reason);
  };
  process.on('message', (message) => {
    if (message === SHUTDOWN_MESSAGE) once('primary');
  });
  process.once('SIGINT', () => once('SIGINT'));
  process.once('SIGTERM', () => once('SIGTERM'));
}

/**
 * Runs the supervisor in the primary process. Resolves with the exit code
 * once every worker is gone: 0 after a requested shutdown, 1 when workers
 * crash-looped or never listened.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ silent: false });
  return new Promise((resolve) => {
    let stopping = false;
    let failed = false;
    let announced = false;
    const listening = new Set<number>();
    const startedAt = new Map<Worker, number>();
    const quickRestarts: number[] = new Array(options.workers).fill(0);
    const slotOf = new Map<Worker, number>();
    let killTimer: NodeJS.Timeout | undefined;

    const fork = (slot: number) => {
      const worker = cluster.fork({ ZEROCOPY_WORKER_SLOT: String(slot) });
      startedAt.set(worker, Date.now());
      slotOf.set(worker, slot);
      worker.on('listening', (address) => {
        // A worker still starting when the shutdown began may have missed the message.
        if (stopping) worker.send(SHUTDOWN_MESSAGE);
        listening.add(worker.id);
        if (!announced && listening.size >= options.workers) {
          announced = true;
          options.onListening?.({ address: address.address ?? '', port: address.port });
        }
      });
    };

    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      options.onEvent?.({ type: `shutdown:${reason}` });
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (!worker?.isConnected()) continue;
        // A worker that does not listen yet has no connections to drain, and
        // may not be able to receive messages yet: a signal ends it either way.
        if (listening.has(worker.id)) worker.send(SHUTDOWN_MESSAGE);
        else worker.process.kill('SIGTERM');
      }
      killTimer = setTimeout(() => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + KILL_GRACE_MS);
      killTimer.unref();
    };

    cluster.on('exit', (worker, code, signal) => {
      const slot = slotOf.get(worker) ?? 0;
      listening.delete(worker.id);
      if (!stopping) {
        options.onEvent?.({ type: 'worker-exit', worker: worker.process.pid ?? 0, code, signal });
        const lived = Date.now() - (startedAt.get(worker) ?? 0);
        quickRestarts[slot] = lived < CRASH_LOOP_WINDOW_MS ? quickRestarts[slot]! + 1 : 0;
        if (quickRestarts[slot]! > MAX_QUICK_RESTARTS) {
          failed = true;
          stop('crash-loop');
        } else {
          fork(slot);
        }
      }
      if (Object.keys(cluster.workers ?? {}).length === 0 && stopping) {
        if (killTimer) clearTimeout(killTimer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(failed || !announced ? 1 : 0);
      }
    });

    const onSignal = (signal: NodeJS.Signals) => stop(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (let slot = 0; slot < options.workers; slot++) fork(slot);
  });
}
