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
import type { Cluster, Worker } from 'node:cluster';
import { createRequire } from 'node:module';

/**
 * node:cluster, loaded on first use: ~2 MiB of a single-process server's
 * memory (issue 11) that only --workers needs. (Node loads it itself in the
 * workers it forks, and removes their NODE_UNIQUE_ID before user code runs.)
 */
let loaded: Cluster | undefined;
function clusterModule(): Cluster {
  loaded ??= createRequire(import.meta.url)('node:cluster') as Cluster;
  return loaded;
}

/** The message the primary sends a worker to start its graceful shutdown. */
export const SHUTDOWN_MESSAGE = 'zerocopy:shutdown';
/** `{ type, message }` from a worker that could not start: the primary stops everything and says why, once. */
const STARTUP_FAILED = 'zerocopy:startup-failed';
/** `{ type, destroyed }` from a worker that finished its graceful shutdown. */
const STOPPED = 'zerocopy:stopped';

/** A worker that dies sooner than this after it started listening counts as a crash loop. */
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

/** How the supervised workers ended. */
export interface PrimaryOutcome {
  /** Process exit code: 0 after a requested shutdown, 1 when the workers failed. */
  code: number;
  /** What stopped them: 'SIGINT', 'SIGTERM', 'startup-failed', 'crash-loop'. */
  reason: string;
  /** Connections the workers had to cut at their shutdown deadline, summed. */
  destroyed: number;
  /** Set when a worker could not start: its own one-line account (the first one). */
  startupFailure?: string;
}

/** True in a worker forked by `runPrimary`. */
export function isClusterWorker(): boolean {
  // A worker always has an IPC channel to its primary; without one, no need to load cluster to know.
  return process.send !== undefined && clusterModule().isWorker;
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

function sendToPrimary(message: object): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

/**
 * In a worker that could not start (the port is taken, the root is gone):
 * hands the one-line `message` to the primary, which prints it once for all
 * workers and stops them instead of restarting. Resolves once it is sent;
 * the worker should then exit non-zero.
 */
export function reportStartupFailure(message: string): Promise<void> {
  return sendToPrimary({ type: STARTUP_FAILED, message });
}

/** In a worker after its graceful shutdown: how many connections it cut at the deadline. */
export function reportStopped(destroyed: number): Promise<void> {
  return sendToPrimary({ type: STOPPED, destroyed });
}

/**
 * Runs the supervisor in the primary process. Resolves once every worker is
 * gone, with how it ended. A worker that exits before it listens is a
 * startup failure: every worker is stopped at once and none restarted (the
 * next would fail the same way), so a taken port ends the command in the
 * time one worker takes to start. A worker that dies after listening is
 * restarted, unless its slot crash-loops.
 */
export function runPrimary(options: PrimaryOptions): Promise<PrimaryOutcome> {
  const cluster = clusterModule();
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ silent: false });
  return new Promise((resolve) => {
    let stopping: string | undefined;
    let failed = false;
    let announced = false;
    let startupFailure: string | undefined;
    let destroyed = 0;
    const listening = new Set<number>();
    const listenedAt = new Map<Worker, number>();
    const quickRestarts: number[] = new Array(options.workers).fill(0);
    const slotOf = new Map<Worker, number>();
    let killTimer: NodeJS.Timeout | undefined;

    // A worker may disconnect between the check and the send (Ctrl-C reaches
    // every process of the group at once): a failed send must not throw in
    // the primary (EPIPE); the worker is told by a signal instead.
    const tellToShutDown = (worker: Worker) => {
      worker.send(SHUTDOWN_MESSAGE, (error: Error | null) => {
        if (error && !worker.isDead()) worker.process.kill('SIGTERM');
      });
    };

    const stop = (reason: string) => {
      if (stopping) return;
      stopping = reason;
      options.onEvent?.({ type: `shutdown:${reason}` });
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (!worker || worker.isDead()) continue;
        // A worker that does not listen yet has no connections to drain, and
        // may not be able to receive messages yet: a signal ends it either way.
        if (listening.has(worker.id) && worker.isConnected()) tellToShutDown(worker);
        else worker.process.kill('SIGTERM');
      }
      killTimer = setTimeout(() => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + KILL_GRACE_MS);
      killTimer.unref();
    };

    const fail = (reason: string, message?: string) => {
      failed = true;
      startupFailure ??= message;
      stop(reason);
    };

    const fork = (slot: number) => {
      const worker = cluster.fork({ ZEROCOPY_WORKER_SLOT: String(slot) });
      slotOf.set(worker, slot);
      worker.on('message', (message: { type?: string; message?: string; destroyed?: number }) => {
        if (message?.type === STARTUP_FAILED) fail('startup-failed', String(message.message));
        else if (message?.type === STOPPED) destroyed += Number(message.destroyed) || 0;
      });
      worker.on('listening', (address) => {
        // A worker still starting when the shutdown began may have missed the message.
        if (stopping) tellToShutDown(worker);
        listening.add(worker.id);
        listenedAt.set(worker, Date.now());
        if (!announced && listening.size >= options.workers) {
          announced = true;
          options.onListening?.({ address: address.address ?? '', port: address.port });
        }
      });
    };

    const settle = () => {
      if (Object.keys(cluster.workers ?? {}).length > 0 || !stopping || pendingDecisions > 0) return;
      if (killTimer) clearTimeout(killTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve({
        code: failed || !announced ? 1 : 0,
        reason: stopping,
        destroyed,
        ...(startupFailure !== undefined ? { startupFailure } : {}),
      });
    };
    let pendingDecisions = 0;

    cluster.on('exit', (worker, code, signal) => {
      const slot = slotOf.get(worker) ?? 0;
      const wasListening = listening.delete(worker.id);
      if (!stopping) {
        options.onEvent?.({ type: 'worker-exit', worker: worker.process.pid ?? 0, code, signal });
        if (!wasListening) {
          // It never listened. Its own account (reportStartupFailure) may
          // still be in the IPC channel: decide once the channel has closed,
          // which comes after every message sent before it.
          const decide = () => {
            pendingDecisions--;
            fail('startup-failed', `a worker exited before listening (${signal ?? `exit code ${code}`})`);
            settle();
          };
          pendingDecisions++;
          if (worker.process.connected) worker.process.once('disconnect', decide);
          else decide();
        } else {
          const lived = Date.now() - (listenedAt.get(worker) ?? 0);
          quickRestarts[slot] = lived < CRASH_LOOP_WINDOW_MS ? quickRestarts[slot]! + 1 : 0;
          if (quickRestarts[slot]! > MAX_QUICK_RESTARTS) fail('crash-loop');
          else fork(slot);
        }
      }
      settle();
    });

    // Node keeps a worker that exited while still connected in
    // cluster.workers until its channel closes: settle then too.
    cluster.on('disconnect', () => settle());

    const onSignal = (signal: NodeJS.Signals) => stop(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (let slot = 0; slot < options.workers; slot++) fork(slot);
  });
}
