/**
 * One segment of a partition's log (Kafka's LogSegment): a file of record
 * batches as producers sent them, named by the offset of its first batch,
 * and its sparse offset index.
 *
 *   00000000000000000000.log     batches, back to back
 *   00000000000000000000.index   sparse index (offset-index.ts)
 *
 * Only the newest segment of a partition (the active one) is appended to,
 * through a write-only fd whose file position is always the segment's end
 * (appends use write(2), so buffered appends and spliced ones share one
 * rule). Any append that fails half-way truncates the file back to its
 * last whole batch and the partition rolls to a new segment, so that
 * position invariant never has to be repaired in place (Node has no lseek).
 *
 * Fetches send regions of the read-only fd. A fetch holds a reference
 * while its regions are in flight: retention may unlink a segment at any
 * time, but its fds close only when the last reference is released, so a
 * region can never name a recycled fd.
 */
import fs from 'node:fs';
import path from 'node:path';

import { BATCH_SCAN_BYTES, readBatchHeader, type BatchInfo } from '../protocol/record-batch.js';
import { OffsetIndex, type IndexEntry } from './offset-index.js';
import { scanSegment } from './scan.js';
import { SharedSync } from './shared-sync.js';

/** Most recent batches kept in memory per segment, so tail fetches need no header reads. */
const RECENT_BATCHES = 4096;
const NAME_DIGITS = 20;

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';

/** "00000000000000000042" for base offset 42 (Kafka's file naming). */
export function segmentName(baseOffset: number): string {
  return String(baseOffset).padStart(NAME_DIGITS, '0');
}

/** The base offset a segment file name stands for, or undefined. */
export function parseSegmentName(file: string): number | undefined {
  const match = /^(\d{20})\.log$/.exec(file);
  return match ? Number(match[1]) : undefined;
}

/** Where a batch is. */
export interface BatchLocation {
  position: number;
  size: number;
  baseOffset: number;
}

export interface OpenOptions {
  /** Check every batch's CRC and cut a torn tail (after an unclean shutdown). */
  recover: boolean;
  /** The next segment's base offset, if there is one: this one's offsets end before it. */
  nextBaseOffset: number | undefined;
}

export interface RecoveryReport {
  /** Bytes cut from the end of the file (a torn or corrupt tail). */
  truncatedBytes: number;
  problem: string | undefined;
  indexRebuilt: boolean;
}

function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, 0, buffer.length, position, (error, n) => (error ? reject(error) : resolve(n)));
  });
}

export class Segment {
  readonly logPath: string;
  readonly indexPath: string;
  /** Valid bytes: whole, checked batches. */
  size = 0;
  /** The offset the next appended batch gets. */
  nextOffset: number;
  /** Largest batch maxTimestamp seen, or -1 when unknown (a segment opened without a scan). */
  maxTimestamp = -1;
  /** For time-based retention: the last append, or the file's mtime when opened. */
  lastModifiedMs: number;
  private fd: number;
  private writeFd = -1;
  private readonly index: OffsetIndex;
  private recent: BatchLocation[] = [];
  private refs = 1;
  private deleted = false;
  private readonly syncer = new SharedSync(() => this.fd);

  private constructor(readonly dir: string, readonly baseOffset: number, readFd: number, indexFd: number, mtimeMs: number) {
    this.logPath = path.join(dir, segmentName(baseOffset) + LOG_SUFFIX);
    this.indexPath = path.join(dir, segmentName(baseOffset) + INDEX_SUFFIX);
    this.fd = readFd;
    this.index = new OffsetIndex(baseOffset, indexFd);
    this.nextOffset = baseOffset;
    this.lastModifiedMs = mtimeMs;
  }

  /** A new, empty segment, ready for appends. Fails if its file exists. */
  static create(dir: string, baseOffset: number): Segment {
    const logPath = path.join(dir, segmentName(baseOffset) + LOG_SUFFIX);
    const writeFd = fs.openSync(logPath, 'wx');
    const readFd = fs.openSync(logPath, 'r');
    const { O_RDWR, O_APPEND, O_CREAT, O_TRUNC } = fs.constants;
    const indexFd = fs.openSync(path.join(dir, segmentName(baseOffset) + INDEX_SUFFIX), O_RDWR | O_APPEND | O_CREAT | O_TRUNC, 0o644);
    const segment = new Segment(dir, baseOffset, readFd, indexFd, Date.now());
    segment.writeFd = writeFd;
    return segment;
  }

  /**
   * Opens an existing segment read-only (it is never appended to again: the
   * partition rolls a new one). With `recover`, every batch is checked and a
   * torn or corrupt tail is cut off; the index is then rebuilt. Otherwise
   * the index is loaded and rebuilt only when it is missing or torn.
   */
  static async open(dir: string, baseOffset: number, options: OpenOptions): Promise<{ segment: Segment; report: RecoveryReport }> {
    const logPath = path.join(dir, segmentName(baseOffset) + LOG_SUFFIX);
    const indexPath = path.join(dir, segmentName(baseOffset) + INDEX_SUFFIX);
    const readFd = fs.openSync(logPath, 'r');
    const stats = fs.fstatSync(readFd);
    const indexExisted = fs.existsSync(indexPath);
    const indexFd = fs.openSync(indexPath, 'a+');
    const segment = new Segment(dir, baseOffset, readFd, indexFd, stats.mtimeMs);
    const report: RecoveryReport = { truncatedBytes: 0, problem: undefined, indexRebuilt: false };
    try {
      const fileSize = stats.size;
      const needsScan = options.recover || options.nextBaseOffset === undefined;
      let loaded = false;
      if (!options.recover) {
        segment.size = fileSize;
        loaded = indexExisted && segment.index.load(fileSize, options.nextBaseOffset ?? Number.MAX_SAFE_INTEGER);
      }
      if (needsScan || !loaded) {
        const batches: IndexEntry[] = [];
        // A clean segment whose index loaded only needs its end found: scan
        // from its last entry. Anything else is read from the start.
        const from = loaded ? segment.index.last() : { offset: baseOffset, position: 0 };
        let next = from.offset;
        let maxTimestamp = -1;
        const result = await scanSegment(readFd, from.position, fileSize, options.recover, (batch) => {
          batches.push({ offset: batch.baseOffset, position: batch.position });
          next = batch.baseOffset + batch.lastOffsetDelta + 1;
          if (batch.maxTimestamp > maxTimestamp) maxTimestamp = batch.maxTimestamp;
        });
        segment.size = result.validEnd;
        segment.nextOffset = next;
        if (from.position === 0) segment.maxTimestamp = maxTimestamp;
        report.problem = result.problem;
        if (result.validEnd < fileSize) {
          report.truncatedBytes = fileSize - result.validEnd;
          fs.truncateSync(logPath, result.validEnd);
        }
        if (!loaded || report.truncatedBytes > 0) {
          segment.index.rebuild(batches);
          report.indexRebuilt = true;
        }
      } else {
        segment.nextOffset = options.nextBaseOffset!;
      }
      return { segment, report };
    } catch (error) {
      segment.closeFds();
      throw error;
    }
  }

  /** The read-only fd fetch regions name; valid while a reference is held. */
  get readFd(): number {
    return this.fd;
  }

  get isWritable(): boolean {
    return this.writeFd >= 0;
  }

  get indexEntries(): number {
    return this.index.entries;
  }

  /** The fd appends go to (its position is the segment's end). */
  get appendFd(): number {
    return this.writeFd;
  }

  /**
   * Writes `records` at the end of the file (write(2) at the fd's position).
   * Resolves once all of it reached the page cache; rejects (the caller then
   * truncates and rolls) on a short or failed write.
   */
  writeAtEnd(records: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (from: number) => {
        fs.write(this.writeFd, records, from, records.length - from, null, (error, n) => {
          if (error) return reject(error);
          if (from + n < records.length) return step(from + n);
          resolve();
        });
      };
      step(0);
    });
  }

  /**
   * Makes `batches` (written at the end, in order, their base offsets set)
   * part of the segment: size, next offset, index, recent-batch cache.
   */
  noteAppended(batches: readonly BatchInfo[], startPosition: number): void {
    let position = startPosition;
    for (const batch of batches) {
      const entry = this.index.noteBatch(batch.baseOffset, position);
      if (entry) this.index.writeEntry(entry);
      this.recent.push({ position, size: batch.size, baseOffset: batch.baseOffset });
      position += batch.size;
      this.nextOffset = batch.baseOffset + batch.lastOffsetDelta + 1;
      if (batch.maxTimestamp > this.maxTimestamp) this.maxTimestamp = batch.maxTimestamp;
    }
    if (this.recent.length > RECENT_BATCHES) this.recent = this.recent.slice(this.recent.length - RECENT_BATCHES / 2);
    this.size = position;
    this.lastModifiedMs = Date.now();
  }

  /** Cuts the file back to `size` (after a failed append); the caller rolls next. */
  truncateToValid(): void {
    fs.ftruncateSync(this.writeFd, this.size);
  }

  /**
   * The batch holding `offset`, looking no further than `visibleEnd`:
   * from memory for recent batches, else from the index entry before it by
   * reading batch headers (43 bytes each, never record bytes).
   */
  async locate(offset: number, visibleEnd: number): Promise<BatchLocation | undefined> {
    if (offset < this.baseOffset || offset >= this.nextOffset) return undefined;
    const recent = this.recent;
    if (recent.length > 0 && recent[0]!.baseOffset <= offset) {
      let lo = 0;
      let hi = recent.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (recent[mid]!.baseOffset <= offset) lo = mid;
        else hi = mid - 1;
      }
      const hit = recent[lo]!;
      if (hit.position + hit.size <= visibleEnd) return hit;
      return undefined;
    }
    let position = this.index.lookup(offset).position;
    const header = Buffer.allocUnsafe(BATCH_SCAN_BYTES);
    while (position < visibleEnd) {
      const n = await readAt(this.readFd, header, position);
      const batch = n === BATCH_SCAN_BYTES ? readBatchHeader(header, 0, position) : undefined;
      if (batch === undefined || position + batch.size > visibleEnd) return undefined;
      if (batch.baseOffset + batch.lastOffsetDelta >= offset) return { position, size: batch.size, baseOffset: batch.baseOffset };
      position += batch.size;
    }
    return undefined;
  }

  /**
   * The base offset of the first batch whose largest timestamp is at or
   * after `timestamp`, or undefined. Reads the segment (ListOffsets by time).
   */
  async offsetForTimestamp(timestamp: number, visibleEnd: number): Promise<{ offset: number; timestamp: number } | undefined> {
    if (this.maxTimestamp >= 0 && this.maxTimestamp < timestamp) return undefined;
    let found: { offset: number; timestamp: number } | undefined;
    await scanSegment(this.readFd, 0, visibleEnd, false, (batch) => {
      if (batch.maxTimestamp < timestamp) return false;
      found = { offset: batch.baseOffset, timestamp: batch.maxTimestamp };
      return true;
    });
    return found;
  }

  /** fdatasync of the segment, shared with concurrent callers (shared-sync.ts). */
  sync(): Promise<void> {
    return this.syncer.sync();
  }

  /**
   * A fresh append fd at position 0, for an empty segment whose append
   * failed: there is nothing to roll away from, and a new segment would have
   * the same base offset (and file name).
   */
  reopenEmptyWriter(): void {
    if (this.size !== 0) throw new Error('only an empty segment can be reopened for appends');
    this.closeWriter();
    this.writeFd = fs.openSync(this.logPath, 'r+');
    fs.ftruncateSync(this.writeFd, 0);
  }

  /** Stops appends (the segment was rolled): closes the write fd. */
  closeWriter(): void {
    if (this.writeFd >= 0) fs.closeSync(this.writeFd);
    this.writeFd = -1;
  }

  /** A reference for a fetch whose regions point into this segment. */
  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.closeFds();
  }

  /**
   * Removes the files (retention). Fetches still sending from it finish:
   * the fds close with the last reference.
   */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.closeWriter();
    fs.rmSync(this.logPath, { force: true });
    fs.rmSync(this.indexPath, { force: true });
    this.release();
  }

  /** Closes the segment for good (broker shutdown): drops the owner's reference. */
  close(): void {
    this.closeWriter();
    if (!this.deleted) {
      this.deleted = true;
      this.release();
    }
  }

  private closeFds(): void {
    this.closeWriter();
    this.index.close();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
