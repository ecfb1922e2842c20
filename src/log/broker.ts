/**
 * createLogBroker: a single-node broker that speaks Kafka's wire protocol,
 * so Kafka clients (kcat, kafkajs, librdkafka, the Java client...) produce
 * and consume against a directory of segment files. Fetches leave with
 * sendfile(2): a response is a header from memory followed by slices of the
 * segments, never read into JavaScript.
 *
 *   client ──TCP──▶ Connection (frames, one request at a time)
 *                     ├─ Produce ─────▶ PartitionLog.append ─▶ segment file (+ fdatasync)
 *                     ├─ Fetch ───────▶ PartitionLog.read ───▶ [header | regions] ─▶ sendChain
 *                     ├─ Join/Sync/Heartbeat/Leave ─▶ GroupCoordinator
 *                     └─ OffsetCommit/Fetch ───────▶ OffsetStore
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { Connection } from './connection.js';
import type { BrokerState } from './context.js';
import { GroupCoordinator, type GroupDescription } from './groups/coordinator.js';
import { OffsetStore } from './groups/offset-store.js';
import { resolveSettings, type BrokerSettings, type LogBrokerOptions } from './settings.js';
import { LogStore } from './storage/log-store.js';

export type { LogBrokerOptions, LogBrokerEvent } from './settings.js';

/**
 * Produce requests with this many bytes of records or more could be spliced
 * into the segment (receiveToFile) rather than buffered; Infinity keeps
 * every produce buffered. See produce-receive notes in docs/log.md.
 */
export const PRODUCE_RECEIVE_DEFAULT_BYTES = Infinity;

const CLUSTER_ID_FILE = 'cluster-id';

/** Kafka cluster ids are 16 random bytes in URL-safe base64; kept across restarts. */
function loadClusterId(stateDir: string): string {
  const file = path.join(stateDir, CLUSTER_ID_FILE);
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (id !== '') return id;
  } catch {
    // first start
  }
  const id = randomBytes(16).toString('base64url');
  fs.writeFileSync(file, `${id}\n`);
  return id;
}

function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export class LogBroker {
  private readonly connections = new Set<Connection>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;

  /** Built by createLogBroker, which opens the directory and starts listening first. */
  constructor(
    private readonly server: net.Server,
    private readonly state: BrokerState,
    private readonly offsets: OffsetStore,
  ) {
    server.on('connection', (socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.connections.add(new Connection(state, socket, (c) => this.connections.delete(c)));
    });
    const { settings } = state;
    if (settings.fsync === 'interval') {
      this.every(settings.fsyncIntervalMs, () => Promise.all([state.store.flush(), offsets.flush()]));
    }
    if (settings.retentionBytes !== undefined || settings.retentionMs !== undefined) {
      this.every(settings.retentionCheckIntervalMs, async () => this.enforceRetention());
    }
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      task().catch((error) => this.state.settings.onLog({ event: 'error', message: (error as Error).message })).finally(() => {
        running = false;
      });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Where the broker listens. */
  get address(): { host: string; port: number } {
    const address = this.server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** The resolved settings (defaults filled in). */
  get settings(): BrokerSettings {
    return this.state.settings;
  }

  /** The storage, for tools and tests (partitions, segments, offsets). */
  get store(): LogStore {
    return this.state.store;
  }

  get clusterId(): string {
    return this.state.clusterId;
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** A consumer group's state, or undefined. */
  describeGroup(groupId: string): GroupDescription | undefined {
    return this.state.groups.describe(groupId);
  }

  /** Runs retention now (it also runs every retentionCheckIntervalMs); returns the segments deleted. */
  enforceRetention(): number {
    return this.state.store.enforceRetention(this.state.settings.retentionBytes, this.state.settings.retentionMs);
  }

  /**
   * Stops accepting, closes every connection, ends every group session,
   * syncs and closes the logs (leaving the clean-shutdown marker, so the
   * next start skips recovery) and releases the directory.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const timer of this.timers) clearInterval(timer);
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const connection of this.connections) connection.close('broker closing', true);
      this.state.groups.shutdown();
      await stopped;
      await this.offsets.close();
      await this.state.store.close({ clean: true });
    })();
    return this.closing;
  }
}

/**
 * Opens (and, after a crash, recovers) the log directory `options.dir`,
 * then listens for Kafka clients on `options.host:options.port` (default
 * 127.0.0.1:9092). Resolves once connections are accepted. The directory is
 * locked against a second broker (ZC_ERR_LOG_DIR_LOCKED). Options are
 * documented on LogBrokerOptions; docs/log.md describes the storage and
 * the durability modes.
 */
export async function createLogBroker(options: LogBrokerOptions): Promise<LogBroker> {
  const settings = resolveSettings(options, PRODUCE_RECEIVE_DEFAULT_BYTES);
  const store = await LogStore.open({ dir: settings.dir, segmentBytes: settings.segmentBytes, fsync: settings.fsync });
  let offsets: OffsetStore | undefined;
  try {
    for (const r of store.recoveries) {
      settings.onLog({ event: 'recovered', topic: r.topic, partition: r.partition, baseOffset: r.baseOffset, truncatedBytes: r.truncatedBytes, indexRebuilt: r.indexRebuilt, problem: r.problem });
    }
    offsets = OffsetStore.open(store.stateDirectory, settings.fsync);
    const groups = new GroupCoordinator(
      { minSessionTimeoutMs: settings.groupMinSessionTimeoutMs, maxSessionTimeoutMs: settings.groupMaxSessionTimeoutMs, initialRebalanceDelayMs: settings.groupInitialRebalanceDelayMs },
      offsets,
      (topic, partition) => store.partition(topic, partition) !== undefined,
    );
    const state: BrokerState = {
      store,
      groups,
      settings,
      clusterId: loadClusterId(store.stateDirectory),
      advertisedAddress: (socket) => ({
        host: settings.advertisedHost ?? unmapIpv4(socket.localAddress ?? settings.host),
        port: settings.advertisedPort ?? socket.localPort ?? settings.port,
      }),
    };
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(settings.port, settings.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const broker = new LogBroker(server, state, offsets);
    settings.onLog({ event: 'listening', ...broker.address });
    return broker;
  } catch (error) {
    await offsets?.close();
    await store.close({ clean: false });
    throw error;
  }
}
