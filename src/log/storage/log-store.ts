/**
 * Every topic-partition under one directory, and the directory's own state.
 *
 *   DIR/
 *     .zerocopy/lock             pid of the broker using DIR
 *     .zerocopy/clean-shutdown   present only between a clean close and the next open
 *     .zerocopy/offsets.log      committed consumer-group offsets (groups/offset-store.ts)
 *     orders-0/  orders-1/  ...  one directory per topic-partition (partition-log.ts)
 *
 * A topic's partition count is the number of its directories, so topics
 * need no metadata file. Names follow Kafka's rule (1-249 of [a-zA-Z0-9._-],
 * not "." or ".."), which keeps them safe as directory names; ".zerocopy"
 * cannot clash, since partition directories end in "-N".
 */
import fs from 'node:fs';
import path from 'node:path';

import { createError } from '../../errors.js';
import { fsyncDirectory } from './fsync-directory.js';
import { PartitionLog, type FsyncMode, type PartitionLogOptions } from './partition-log.js';
import type { RecoveryReport } from './segment.js';

export const STATE_DIR = '.zerocopy';
const LOCK_FILE = 'lock';
const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';
const MAX_TOPIC_NAME_LENGTH = 249;
const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;
const PARTITION_DIR = /^(.+)-(\d+)$/;

/** Directories locked by this process: a second store on the same one is refused too. */
const lockedHere = new Set<string>();

export interface LogStoreOptions extends PartitionLogOptions {
  dir: string;
}

export interface PartitionRecovery extends RecoveryReport {
  topic: string;
  partition: number;
  baseOffset: number;
}

/** Whether `name` is a valid Kafka topic name. */
export function isValidTopicName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_TOPIC_NAME_LENGTH && TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}


function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes DIR for this process: refused while the pid in the lock file is a
 * live process (another broker, or this one). A lock left by a broker that
 * died (SIGKILL) names a dead pid and is taken over. A pid reused by an
 * unrelated process would keep the directory locked: remove the file then.
 */
function lockDirectory(dir: string, stateDir: string): void {
  const resolved = fs.realpathSync(dir);
  const lockPath = path.join(stateDir, LOCK_FILE);
  if (lockedHere.has(resolved)) throw createError('ZC_ERR_LOG_DIR_LOCKED', [dir, process.pid]);
  let holder: number | undefined;
  try {
    holder = Number(fs.readFileSync(lockPath, 'utf8').trim());
  } catch {
    holder = undefined;
  }
  if (holder !== undefined && Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw createError('ZC_ERR_LOG_DIR_LOCKED', [dir, holder]);
  }
  fs.writeFileSync(lockPath, `${process.pid}\n`);
  lockedHere.add(resolved);
}

export class LogStore {
  private readonly logs = new Map<string, PartitionLog[]>();
  private readonly creating = new Map<string, Promise<PartitionLog[]>>();
  private readonly stateDir: string;
  private readonly resolvedDir: string;
  private closed = false;
  /** What recovery did at open: torn tails cut, indexes rebuilt. */
  readonly recoveries: PartitionRecovery[] = [];
  /** Whether the previous broker on this directory shut down cleanly. */
  readonly wasClean: boolean;

  private constructor(private readonly options: LogStoreOptions, wasClean: boolean) {
    this.stateDir = path.join(options.dir, STATE_DIR);
    this.resolvedDir = fs.realpathSync(options.dir);
    this.wasClean = wasClean;
  }

  /** Opens DIR (created if missing): locks it, then opens and recovers every partition in it. */
  static async open(options: LogStoreOptions): Promise<LogStore> {
    fs.mkdirSync(path.join(options.dir, STATE_DIR), { recursive: true });
    const stateDir = path.join(options.dir, STATE_DIR);
    lockDirectory(options.dir, stateDir);
    const cleanMarker = path.join(stateDir, CLEAN_SHUTDOWN_FILE);
    const wasClean = fs.existsSync(cleanMarker);
    const store = new LogStore(options, wasClean);
    try {
      const found = new Map<string, number[]>();
      for (const entry of fs.readdirSync(options.dir, { withFileTypes: true })) {
        const match = entry.isDirectory() ? PARTITION_DIR.exec(entry.name) : null;
        if (!match || !isValidTopicName(match[1]!)) continue;
        const list = found.get(match[1]!) ?? [];
        list.push(Number(match[2]));
        found.set(match[1]!, list);
      }
      for (const [topic, partitions] of found) {
        const count = Math.max(...partitions) + 1;
        store.logs.set(topic, await store.openPartitions(topic, count, wasClean));
      }
      // From here on a crash must be recovered: the marker goes before any write.
      fs.rmSync(cleanMarker, { force: true });
    } catch (error) {
      await store.close({ clean: false });
      throw error;
    }
    return store;
  }

  private async openPartitions(topic: string, count: number, clean: boolean): Promise<PartitionLog[]> {
    const logs: PartitionLog[] = [];
    for (let partition = 0; partition < count; partition++) {
      const dir = path.join(this.options.dir, `${topic}-${partition}`);
      const { log, reports } = await PartitionLog.open(dir, topic, partition, this.options, clean);
      for (const report of reports) this.recoveries.push({ ...report, topic, partition });
      logs.push(log);
    }
    return logs;
  }

  get dir(): string {
    return this.options.dir;
  }

  get fsync(): FsyncMode {
    return this.options.fsync;
  }

  /** Where broker-level state (committed offsets) lives. */
  get stateDirectory(): string {
    return this.stateDir;
  }

  topicNames(): string[] {
    return [...this.logs.keys()];
  }

  partitions(topic: string): PartitionLog[] | undefined {
    return this.logs.get(topic);
  }

  partition(topic: string, index: number): PartitionLog | undefined {
    return this.logs.get(topic)?.[index];
  }

  allPartitions(): PartitionLog[] {
    return [...this.logs.values()].flat();
  }

  /**
   * Creates `topic` with `partitions` partitions. Resolves 'exists' when it
   * already does (concurrent creations of one name share one), 'invalid'
   * for a name Kafka would refuse.
   */
  async createTopic(topic: string, partitions: number): Promise<'created' | 'exists' | 'invalid'> {
    if (!isValidTopicName(topic)) return 'invalid';
    if (this.logs.has(topic)) return 'exists';
    const pending = this.creating.get(topic);
    if (pending) {
      await pending;
      return 'exists';
    }
    const creation = this.openPartitions(topic, partitions, true).then(async (logs) => {
      // The new partition directories must survive a power cut with their data.
      if (this.options.fsync !== 'never') await fsyncDirectory(this.options.dir);
      return logs;
    });
    this.creating.set(topic, creation);
    try {
      this.logs.set(topic, await creation);
    } finally {
      this.creating.delete(topic);
    }
    return 'created';
  }

  /** fdatasync of everything written since the last flush. */
  async flush(): Promise<void> {
    await Promise.all(this.allPartitions().map((log) => log.flush()));
  }

  /** Retention over every partition; returns the number of segments deleted. */
  enforceRetention(retentionBytes: number | undefined, retentionMs: number | undefined, now = Date.now()): number {
    let deleted = 0;
    for (const log of this.allPartitions()) deleted += log.enforceRetention(now, retentionBytes, retentionMs);
    return deleted;
  }

  /**
   * Closes every partition (after their running appends), syncs, and, when
   * `clean`, leaves the marker that lets the next open skip recovery.
   * Releases the directory lock.
   */
  async close(options: { clean?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.creating.values()].map((p) => p.catch(() => undefined)));
    await Promise.all(this.allPartitions().map((log) => log.close()));
    if (options.clean !== false) fs.writeFileSync(path.join(this.stateDir, CLEAN_SHUTDOWN_FILE), '');
    fs.rmSync(path.join(this.stateDir, LOCK_FILE), { force: true });
    lockedHere.delete(this.resolvedDir);
  }
}
