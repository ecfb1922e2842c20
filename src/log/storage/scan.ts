/**
 * Reading a segment file batch by batch, for recovery and index rebuilds
 * (never for fetches, which do not read record bytes at all). Reads 1 MiB
 * at a time; a batch larger than that is read whole.
 */
import fs from 'node:fs';

import { BATCH_HEADER_BYTES, checkBatch, isProblem, LOG_OVERHEAD_BYTES, readBatchHeader, type BatchInfo } from '../protocol/record-batch.js';

const SCAN_CHUNK_BYTES = 1 << 20;

export interface ScanResult {
  /** Where the last whole (and, when verified, intact) batch ends: the valid size. */
  validEnd: number;
  /** Why the scan stopped before `size`, if it did. */
  problem?: string;
}

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, 0, length, position, (error, n) => (error ? reject(error) : resolve(n)));
  });
}

async function readFully(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const n = await readAt(fd, buffer.subarray(got), length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Walks the batches of the segment in `fd` from `start` up to `size`,
 * calling `onBatch` for each whole one (positions are file positions).
 * With `verify`, each batch's length, magic, CRC-32C and record count are
 * checked (recovery); without, only its length and magic (an index rebuild
 * of a segment that was closed cleanly). Stops at the first batch that is
 * torn or fails a check: everything from there on is not part of the log.
 * `onBatch` returning true stops the scan early (after that batch).
 */
export async function scanSegment(
  fd: number,
  start: number,
  size: number,
  verify: boolean,
  onBatch: (batch: BatchInfo) => boolean | void,
): Promise<ScanResult> {
  let buffer = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
  let position = start;
  while (position < size) {
    const want = Math.min(buffer.length, size - position);
    const got = await readFully(fd, buffer, want, position);
    if (got < LOG_OVERHEAD_BYTES) return { validEnd: position, problem: got === 0 ? 'the file is shorter than expected' : 'a torn batch header at the end' };
    let at = 0;
    while (at < got) {
      const left = got - at;
      if (left < BATCH_HEADER_BYTES) {
        if (position + at + left >= size) return { validEnd: position + at, problem: 'a torn batch header at the end' };
        break; // read on from this batch
      }
      const batchSize = LOG_OVERHEAD_BYTES + buffer.readInt32BE(at + 8);
      if (batchSize > left) {
        if (position + at + batchSize > size) {
          // Either a torn tail or a length field that is garbage.
          return { validEnd: position + at, problem: 'a batch runs past the end of the file' };
        }
        if (batchSize > buffer.length) buffer = Buffer.allocUnsafe(batchSize);
        break; // read on from this batch, whole
      }
      if (verify) {
        const checked = checkBatch(buffer, at, at + batchSize);
        if (isProblem(checked)) return { validEnd: position + at, problem: checked.reason };
        checked.position = position + at;
        if (onBatch(checked) === true) return { validEnd: position + at + batchSize };
      } else {
        const header = readBatchHeader(buffer, at, position + at);
        if (header === undefined) return { validEnd: position + at, problem: 'not a record batch' };
        if (onBatch(header) === true) return { validEnd: position + at + batchSize };
      }
      at += batchSize;
    }
    // at is 0 only when the next batch is larger than the old buffer: the
    // buffer was grown for it and the loop reads it whole.
    position += at;
  }
  return { validEnd: position };
}
