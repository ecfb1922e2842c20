/**
 * The log of one topic-partition: its segments in offset order, appends to
 * the newest, reads across all of them, retention from the oldest.
 *
 *   DIR/orders-0/
 *     00000000000000000000.log  .index     offsets 0 .. 9,999       (closed)
 *     00000000000000010000.log  .index     offsets 10,000 .. 10,412 (active: appends go here)
 *
 * Offsets: the log start offset is the first segment's base offset (it
 * moves only when retention deletes whole segments); the log end offset is
 * the offset the next batch gets; the high watermark is how far consumers
 * may read. With fsync 'always' the high watermark moves only after the
 * fdatasync that made those batches durable, so a consumer never sees a
 * record that a power cut could take back. Otherwise it is the log end.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';

import type { ChainFileRegion } from '../../transfer/send-chain.js';
import { assignOffsets, isProblem, type BatchInfo, type BatchProblem } from '../protocol/record-batch.js';
import { checkReceivedBatches, patchReceivedBatches } from './received-batches.js';
import { fsyncDirectory } from './fsync-directory.js';
import { parseSegmentName, Segment, type RecoveryReport } from './segment.js';

/** When a produce is acknowledged relative to fdatasync; see docs/log.md. */
export type FsyncMode = 'always' | 'interval' | 'never';

/** Relative offsets in the index are INT32: a segment never spans more offsets. */
const MAX_OFFSETS_PER_SEGMENT = 0x7fffffff;
/** Positions in the index are INT32: a segment never grows past this. */
export const MAX_SEGMENT_BYTES = 0x7fffffff;

export interface PartitionLogOptions {
  segmentBytes: number;
  fsync: FsyncMode;
}

/** A read for a fetch: regions to send, and the segments they pin until `release()`. */
export interface LogRead {
  regions: ChainFileRegion[];
  bytes: number;
  /** Drops the references that keep the regions' fds open. Call once, after sending. */
  release(): void;
}

interface Position {
  offset: number;
  segment: Segment;
  position: number;
}


export class PartitionLog {
  private segments: Segment[];
  private highWater: Position;
  private turn: Promise<unknown> = Promise.resolve();
  private readonly dirty = new Set<Segment>();
  private readonly events = new EventEmitter();
  private closed = false;

  private constructor(
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    private readonly options: PartitionLogOptions,
    segments: Segment[],
  ) {
    this.segments = segments;
    const last = segments.at(-1)!;
    this.highWater = { offset: last.nextOffset, segment: last, position: last.size };
    this.events.setMaxListeners(0);
  }

  /**
   * Opens (creating if needed) the partition in `dir`. After an unclean
   * shutdown (`clean` false) the newest segment is recovered: every batch
   * checked, a torn or corrupt tail cut off, its index rebuilt. Other
   * segments get their index checked and rebuilt if missing or torn. A new
   * active segment is then started (appends never resume inside an old
   * file: see segment.ts).
   */
  static async open(dir: string, topic: string, partition: number, options: PartitionLogOptions, clean: boolean): Promise<{ log: PartitionLog; reports: (RecoveryReport & { baseOffset: number })[] }> {
    fs.mkdirSync(dir, { recursive: true });
    const bases = fs.readdirSync(dir).map(parseSegmentName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
    const segments: Segment[] = [];
    const reports: (RecoveryReport & { baseOffset: number })[] = [];
    try {
      for (let i = 0; i < bases.length; i++) {
        const isLast = i === bases.length - 1;
        const { segment, report } = await Segment.open(dir, bases[i]!, { recover: isLast && !clean, nextBaseOffset: bases[i + 1] });
        segments.push(segment);
        if (report.truncatedBytes > 0 || report.indexRebuilt) reports.push({ ...report, baseOffset: bases[i]! });
      }
      const last = segments.at(-1);
      if (last === undefined || last.size > 0) {
        segments.push(Segment.create(dir, last?.nextOffset ?? 0));
        if (options.fsync !== 'never') await fsyncDirectory(dir);
      } else {
        // An empty newest segment: reopen it for appends.
        segments.pop();
        last.close();
        fs.rmSync(last.logPath);
        fs.rmSync(last.indexPath, { force: true });
        segments.push(Segment.create(dir, last.baseOffset));
      }
    } catch (error) {
      for (const segment of segments) segment.close();
      throw error;
    }
    return { log: new PartitionLog(topic, partition, dir, options, segments), reports };
  }

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  get highWatermark(): number {
    return this.highWater.offset;
  }

  /** Bytes of every segment. */
  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.size;
    return total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets and sizes of the segments, oldest first (for tests and tools). */
  describeSegments(): { baseOffset: number; size: number; nextOffset: number; indexEntries: number }[] {
    return this.segments.map((s) => ({ baseOffset: s.baseOffset, size: s.size, nextOffset: s.nextOffset, indexEntries: s.indexEntries }));
  }

  private get active(): Segment {
    return this.segments.at(-1)!;
  }

  /** Runs `work` after every earlier append's critical section (appends are serial). */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work, work);
    this.turn = run.catch(() => {});
    return run;
  }

  private async roll(): Promise<void> {
    const old = this.active;
    if (old.size === 0) {
      // Only after a failed append: start over in the same (empty) file.
      old.reopenEmptyWriter();
      return;
    }
    // The old segment is made durable before the next one exists, so after
    // any crash only the newest segment can have a torn tail.
    if (this.options.fsync !== 'never' && old.size > 0) await old.sync();
    this.dirty.delete(old);
    old.closeWriter();
    this.segments.push(Segment.create(this.dir, old.nextOffset));
    if (this.options.fsync !== 'never') await fsyncDirectory(this.dir);
  }

  /**
   * Appends checked batches (`records` holds them end to end; their base
   * offsets are set here, in place) and resolves with the first one's offset
   * once they are acknowledgeable: written, and under fsync 'always' also
   * on disk. A failed write cuts the segment back to its last whole batch
   * and starts a new one, then rejects: nothing half-written is ever read.
   */
  append(records: Buffer, batches: readonly BatchInfo[]): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the partition is closed'));
    return this.exclusive(async () => {
      let segment = this.active;
      const spanned = batches.reduce((n, b) => n + b.lastOffsetDelta + 1, 0);
      if (segment.size > 0 && (segment.size + records.length > this.options.segmentBytes ||
          this.logEndOffset + spanned - segment.baseOffset > MAX_OFFSETS_PER_SEGMENT)) {
        await this.roll();
        segment = this.active;
      }
      const baseOffset = this.logEndOffset;
      assignOffsets(records, batches, baseOffset);
      const start = segment.size;
      try {
        await segment.writeAtEnd(records);
      } catch (error) {
        segment.truncateToValid();
        await this.roll();
        throw error;
      }
      segment.noteAppended(batches, start);
      this.dirty.add(segment);
      return { baseOffset, end: { offset: segment.nextOffset, segment, position: segment.size } };
    }).then(async ({ baseOffset, end }) => {
      if (this.options.fsync === 'always') {
        await end.segment.sync();
        this.dirty.delete(end.segment);
      }
      this.advance(end);
      return baseOffset;
    });
  }

  /**
   * Appends `count` bytes of batches that `receive` writes straight into
   * the active segment through the fd it is given (at the segment's end:
   * receiveToFile splices socket bytes there). Holds the append lock
   * meanwhile. The bytes are then read back and checked like any produce;
   * a problem, or a failed receive, cuts the segment back and starts a new
   * one. Resolves with the first offset, or the problem.
   */
  appendReceived(count: number, receive: (fd: number) => Promise<void>): Promise<number | BatchProblem> {
    if (this.closed) return Promise.reject(new Error('the partition is closed'));
    return this.exclusive(async () => {
      let segment = this.active;
      if (segment.size > 0 && segment.size + count > this.options.segmentBytes) {
        await this.roll();
        segment = this.active;
      }
      const start = segment.size;
      const baseOffset = this.logEndOffset;
      let checked: BatchInfo[] | BatchProblem;
      try {
        await receive(segment.appendFd);
        checked = await checkReceivedBatches(segment.readFd, start, count);
        if (!isProblem(checked)) {
          const spanned = checked.reduce((n, b) => n + b.lastOffsetDelta + 1, 0);
          if (baseOffset + spanned - segment.baseOffset > MAX_OFFSETS_PER_SEGMENT) checked = { reason: 'too many offsets for one segment', position: 0 };
          else await patchReceivedBatches(segment.appendFd, start, checked, baseOffset);
        }
      } catch (error) {
        segment.truncateToValid();
        await this.roll();
        throw error;
      }
      if (isProblem(checked)) {
        segment.truncateToValid();
        await this.roll();
        return checked;
      }
      segment.noteAppended(checked, start);
      this.dirty.add(segment);
      return { baseOffset, end: { offset: segment.nextOffset, segment, position: segment.size } };
    }).then(async (result) => {
      if (isProblem(result)) return result;
      if (this.options.fsync === 'always') {
        await result.end.segment.sync();
        this.dirty.delete(result.end.segment);
      }
      this.advance(result.end);
      return result.baseOffset;
    });
  }

  private advance(end: Position): void {
    if (end.offset <= this.highWater.offset) return;
    this.highWater = end;
    this.events.emit('advance');
  }

  /** Calls `listener` whenever the high watermark moves; returns the unsubscribe function. */
  onAdvance(listener: () => void): () => void {
    this.events.on('advance', listener);
    return () => this.events.off('advance', listener);
  }

  /** fdatasync of every segment written since its last sync ('interval' mode, shutdown). */
  async flush(): Promise<void> {
    const dirty = [...this.dirty];
    this.dirty.clear();
    await Promise.all(dirty.map((segment) => segment.sync()));
  }

  private visibleEnd(segment: Segment): number {
    const hwIndex = this.segments.indexOf(this.highWater.segment);
    const index = this.segments.indexOf(segment);
    if (index < hwIndex) return segment.size;
    if (index === hwIndex) return this.highWater.position;
    return 0;
  }

  /**
   * The regions holding offsets from `offset` on, at most `maxBytes` (a
   * partial last batch included, as Kafka does: consumers drop it and ask
   * again from there), or at least the whole first batch with `minOneBatch`
   * (KIP-74), across segment boundaries, up to the high watermark.
   * 'out-of-range' below the log start or past the log end.
   */
  async read(offset: number, maxBytes: number, minOneBatch: boolean): Promise<LogRead | 'out-of-range'> {
    if (offset < this.logStartOffset || offset > this.logEndOffset) return 'out-of-range';
    const pinned: Segment[] = [];
    const regions: ChainFileRegion[] = [];
    let bytes = 0;
    const release = () => {
      for (const segment of pinned.splice(0)) segment.release();
    };
    if (offset >= this.highWater.offset) return { regions, bytes, release };
    let index = this.segments.length - 1;
    while (index > 0 && this.segments[index]!.baseOffset > offset) index--;
    try {
      let remaining = maxBytes;
      for (let first = true; index < this.segments.length; index++, first = false) {
        if (!first && remaining <= 0) break;
        const segment = this.segments[index]!;
        // Pinned before any await: retention may delete it meanwhile.
        segment.retain();
        pinned.push(segment);
        const visible = this.visibleEnd(segment);
        let start = 0;
        let firstBatch = 0;
        if (first) {
          const found = await segment.locate(offset, visible);
          if (found === undefined) break;
          start = found.position;
          firstBatch = found.size;
        }
        let length = Math.min(visible - start, remaining);
        if (first && minOneBatch && length < firstBatch) length = firstBatch;
        if (length <= 0) {
          if (visible === 0) break;
          continue;
        }
        regions.push({ fd: segment.readFd, offset: start, length });
        bytes += length;
        remaining -= length;
        if (start + length < visible) break;
      }
    } catch (error) {
      release();
      throw error;
    }
    return { regions, bytes, release };
  }

  /**
   * ListOffsets by time: the first batch (oldest first) holding a record at
   * or after `timestamp`, as its base offset and largest timestamp.
   */
  async offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | undefined> {
    for (const segment of [...this.segments]) {
      const visible = this.visibleEnd(segment);
      if (visible === 0) break;
      segment.retain();
      try {
        const found = await segment.offsetForTimestamp(timestamp, visible);
        if (found) return found;
      } finally {
        segment.release();
      }
    }
    return undefined;
  }

  /**
   * Deletes whole segments from the oldest while the log is over
   * `retentionBytes` by at least that segment (Kafka's rule), or while the
   * oldest was last written more than `retentionMs` ago. Never the active
   * segment, nor the one the high watermark is in. Returns how many went.
   */
  enforceRetention(now: number, retentionBytes: number | undefined, retentionMs: number | undefined): number {
    let deleted = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      if (oldest === this.active || oldest === this.highWater.segment) break;
      const overSize = retentionBytes !== undefined && this.sizeBytes - oldest.size >= retentionBytes;
      const expired = retentionMs !== undefined && now - oldest.lastModifiedMs > retentionMs;
      if (!overSize && !expired) break;
      this.segments.shift();
      this.dirty.delete(oldest);
      oldest.delete();
      deleted++;
    }
    return deleted;
  }

  /** Waits for running appends, syncs (unless fsync 'never'), closes every segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.turn;
    if (this.options.fsync !== 'never') await this.flush();
    for (const segment of this.segments) segment.close();
    this.events.removeAllListeners();
  }
}

