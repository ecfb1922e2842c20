/**
 * Committed consumer-group offsets, kept across restarts: an append-only
 * file of commits replayed at open (Kafka keeps them in the compacted topic
 * __consumer_offsets; one node needs no more than a file).
 *
 *   DIR/.zerocopy/offsets.log, one record per committed partition:
 *     INT32 payload length | UINT32 CRC-32C of payload | payload (UTF-8 JSON)
 *     payload: {"g":"group","t":"topic","p":0,"o":1234,"m":"metadata or null"}
 *
 * The last record for a (group, topic, partition) wins. A torn or corrupt
 * tail (a crash mid-append) is cut at open. When the file holds more than
 * COMPACT_RATIO times the live records, it is rewritten (temp file, fsync,
 * rename, fsync of the directory), so it stays proportional to the groups.
 * Commits are acknowledged after the append, and under fsync 'always' after
 * its fdatasync, like produce.
 */
import fs from 'node:fs';
import path from 'node:path';

import { crc32c } from '../protocol/crc32c.js';
import type { FsyncMode } from '../storage/partition-log.js';
import { SharedSync } from '../storage/shared-sync.js';

const FILE = 'offsets.log';
const RECORD_HEADER_BYTES = 8;
const COMPACT_MIN_BYTES = 1 << 20;
const COMPACT_RATIO = 4;

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

export interface OffsetCommitEntry extends CommittedOffset {
  topic: string;
  partition: number;
}

interface Payload {
  g: string;
  t: string;
  p: number;
  o: number;
  m: string | null;
}

function key(group: string, topic: string, partition: number): string {
  return `${group}\u0000${topic}\u0000${partition}`;
}

function encodeRecord(payload: Payload): Buffer {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  record.writeInt32BE(body.length, 0);
  record.writeUInt32BE(crc32c(body), 4);
  body.copy(record, RECORD_HEADER_BYTES);
  return record;
}

function isPayload(value: unknown): value is Payload {
  const p = value as Payload;
  return typeof p === 'object' && p !== null && typeof p.g === 'string' && typeof p.t === 'string' &&
    Number.isInteger(p.p) && Number.isInteger(p.o) && (p.m === null || typeof p.m === 'string');
}

interface StoredOffset extends OffsetCommitEntry {
  group: string;
  /** Size of its record in the file, for the compaction ratio. */
  recordBytes: number;
}

export class OffsetStore {
  private readonly offsets = new Map<string, StoredOffset>();
  private fd: number;
  private fileBytes = 0;
  private liveBytes = 0;
  private readonly syncer = new SharedSync(() => this.fd);
  private turn: Promise<unknown> = Promise.resolve();
  /** Bytes cut from a torn tail at open. */
  readonly truncatedBytes: number;

  private constructor(private readonly file: string, private readonly fsyncMode: FsyncMode, data: Buffer) {
    let at = 0;
    while (at + RECORD_HEADER_BYTES <= data.length) {
      const length = data.readInt32BE(at);
      if (length < 0 || at + RECORD_HEADER_BYTES + length > data.length) break;
      const body = data.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length);
      if (crc32c(body) !== data.readUInt32BE(at + 4)) break;
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        break;
      }
      if (!isPayload(payload)) break;
      this.remember(payload, RECORD_HEADER_BYTES + length);
      at += RECORD_HEADER_BYTES + length;
    }
    this.truncatedBytes = data.length - at;
    this.fd = fs.openSync(file, 'a');
    if (this.truncatedBytes > 0) fs.ftruncateSync(this.fd, at);
    this.fileBytes = at;
  }

  /** Opens (creating) the store in `stateDir`, replaying its commits. */
  static open(stateDir: string, fsyncMode: FsyncMode): OffsetStore {
    const file = path.join(stateDir, FILE);
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      data = Buffer.alloc(0);
    }
    return new OffsetStore(file, fsyncMode, data);
  }

  private remember(payload: Payload, bytes: number): void {
    const k = key(payload.g, payload.t, payload.p);
    const previous = this.offsets.get(k);
    if (previous) this.liveBytes -= previous.recordBytes;
    this.offsets.set(k, { group: payload.g, topic: payload.t, partition: payload.p, offset: payload.o, metadata: payload.m, recordBytes: bytes });
    this.liveBytes += bytes;
  }

  /** The committed offset of a partition for a group, if any. */
  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    const found = this.offsets.get(key(group, topic, partition));
    return found ? { offset: found.offset, metadata: found.metadata } : undefined;
  }

  /** Every committed partition of a group. */
  listGroup(group: string): OffsetCommitEntry[] {
    const out: OffsetCommitEntry[] = [];
    for (const entry of this.offsets.values()) {
      if (entry.group === group) out.push({ topic: entry.topic, partition: entry.partition, offset: entry.offset, metadata: entry.metadata });
    }
    return out;
  }

  /**
   * Stores commits for `group`; resolves once they are durable as the fsync
   * mode promises (written; under 'always' also synced).
   */
  commit(group: string, entries: readonly OffsetCommitEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const records = entries.map((e) => {
      const payload: Payload = { g: group, t: e.topic, p: e.partition, o: e.offset, m: e.metadata };
      return { payload, bytes: encodeRecord(payload) };
    });
    const run = this.turn.then(async () => {
      const data = Buffer.concat(records.map((r) => r.bytes));
      await new Promise<void>((resolve, reject) => {
        const step = (from: number) => fs.write(this.fd, data, from, data.length - from, null, (error, n) => {
          if (error) return reject(error);
          if (from + n < data.length) return step(from + n);
          resolve();
        });
        step(0);
      });
      this.fileBytes += data.length;
      for (const r of records) this.remember(r.payload, r.bytes.length);
      if (this.fileBytes > COMPACT_MIN_BYTES && this.fileBytes > COMPACT_RATIO * this.liveBytes) this.compact();
    });
    this.turn = run.catch(() => {});
    return run.then(() => (this.fsyncMode === 'always' ? this.syncer.sync() : undefined));
  }

  /** Rewrites the file with only the live records. */
  private compact(): void {
    const temp = `${this.file}.compacting`;
    const live = [...this.offsets.values()].map((e) => encodeRecord({ g: e.group, t: e.topic, p: e.partition, o: e.offset, m: e.metadata }));
    const data = Buffer.concat(live);
    const fd = fs.openSync(temp, 'w');
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, this.file);
    const dirFd = fs.openSync(path.dirname(this.file), 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
    fs.closeSync(this.fd);
    this.fd = fs.openSync(this.file, 'a');
    this.fileBytes = data.length;
    this.liveBytes = data.length;
  }

  async flush(): Promise<void> {
    await this.turn;
    await this.syncer.sync();
  }

  async close(): Promise<void> {
    await this.turn;
    if (this.fsyncMode !== 'never') await this.syncer.sync();
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
