/**
 * The sparse offset index of one segment (Kafka's OffsetIndex): every
 * INDEX_INTERVAL_BYTES of log, one entry mapping a batch's base offset to
 * its position in the segment file, so a fetch for any offset starts
 * scanning batch headers at most that many bytes before its batch.
 *
 *   file 00000000000000000000.index: 8-byte entries, big-endian
 *     INT32 base offset − segment base offset | INT32 position in the .log
 *
 * The index is derived data: the log is the truth. An index that is
 * missing, torn (not a whole number of entries), out of order or pointing
 * past the log is rebuilt from the log.
 */
import fs from 'node:fs';

/** Kafka's index.interval.bytes default. */
export const INDEX_INTERVAL_BYTES = 4096;
export const INDEX_ENTRY_BYTES = 8;

export interface IndexEntry {
  offset: number;
  position: number;
}

export class OffsetIndex {
  /** Relative offsets and positions, parallel, ascending. */
  private offsets: number[] = [];
  private positions: number[] = [];
  private lastIndexedPosition = 0;

  constructor(readonly baseOffset: number, private fd: number) {}

  get entries(): number {
    return this.offsets.length;
  }

  /** The last entry, or the segment's start. */
  last(): IndexEntry {
    const n = this.offsets.length;
    return n === 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.baseOffset + this.offsets[n - 1]!, position: this.positions[n - 1]! };
  }

  /**
   * Where to start scanning for `offset`: the entry with the largest base
   * offset ≤ `offset` (or the segment's start).
   */
  lookup(offset: number): IndexEntry {
    const relative = offset - this.baseOffset;
    let lo = 0;
    let hi = this.offsets.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! <= relative) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.baseOffset + this.offsets[found]!, position: this.positions[found]! };
  }

  /**
   * Records a batch appended at `position`: adds an entry when the log grew
   * by INDEX_INTERVAL_BYTES since the last one. Returns the entry's bytes to
   * append to the index file, or undefined.
   */
  noteBatch(offset: number, position: number): Buffer | undefined {
    if (position === 0 || position - this.lastIndexedPosition < INDEX_INTERVAL_BYTES) return undefined;
    this.offsets.push(offset - this.baseOffset);
    this.positions.push(position);
    this.lastIndexedPosition = position;
    const entry = Buffer.allocUnsafe(INDEX_ENTRY_BYTES);
    entry.writeInt32BE(offset - this.baseOffset, 0);
    entry.writeInt32BE(position, 4);
    return entry;
  }

  /**
   * Appends an entry made by noteBatch to the index file (opened O_APPEND).
   * Synchronous: 8 bytes into the page cache, once per 4 KiB of log; never
   * fsynced, since a torn index is rebuilt from the log.
   */
  writeEntry(entry: Buffer): void {
    fs.writeSync(this.fd, entry);
  }

  /**
   * Loads the index file's entries, trusting them only if they describe a
   * log of `logSize` bytes whose offsets end before `nextOffset`. Returns
   * false (loading nothing) when the file must be rebuilt.
   */
  load(logSize: number, nextOffset: number): boolean {
    const data = Buffer.allocUnsafe(fs.fstatSync(this.fd).size);
    if (fs.readSync(this.fd, data, 0, data.length, 0) !== data.length) return false;
    if (data.length % INDEX_ENTRY_BYTES !== 0) return false;
    const offsets: number[] = [];
    const positions: number[] = [];
    for (let at = 0; at < data.length; at += INDEX_ENTRY_BYTES) {
      const relative = data.readInt32BE(at);
      const position = data.readInt32BE(at + 4);
      const previous = offsets.length - 1;
      if (relative <= 0 || position <= 0 || position >= logSize || this.baseOffset + relative >= nextOffset) return false;
      if (previous >= 0 && (relative <= offsets[previous]! || position <= positions[previous]!)) return false;
      offsets.push(relative);
      positions.push(position);
    }
    this.offsets = offsets;
    this.positions = positions;
    this.lastIndexedPosition = positions.at(-1) ?? 0;
    return true;
  }

  /**
   * Replaces the index with entries rebuilt from the log: the batches as a
   * scan found them, in order. Writes the whole file anew.
   */
  rebuild(batches: readonly IndexEntry[]): void {
    this.offsets = [];
    this.positions = [];
    this.lastIndexedPosition = 0;
    const entries: Buffer[] = [];
    for (const batch of batches) {
      const entry = this.noteBatch(batch.offset, batch.position);
      if (entry) entries.push(entry);
    }
    fs.ftruncateSync(this.fd, 0);
    if (entries.length > 0) fs.writeSync(this.fd, Buffer.concat(entries), 0, entries.length * INDEX_ENTRY_BYTES, 0);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
