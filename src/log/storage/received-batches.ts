/**
 * Checking batches that were spliced straight from a socket into the
 * segment (produce-receive.ts): they are read back from the page cache one
 * batch at a time (the CRC must see every byte), then their base offsets
 * and leader epochs are written in place with pwrite(2), which leaves the
 * append fd's position at the segment's end.
 */
import fs from 'node:fs';

import { BATCH_HEADER_BYTES, checkBatch, isProblem, isTransactional, LOG_OVERHEAD_BYTES, type BatchInfo, type BatchProblem } from '../protocol/record-batch.js';

const TWO_32 = 2 ** 32;

function readExactly(fd: number, buffer: Buffer, length: number, position: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const step = () => fs.read(fd, buffer, got, length - got, position + got, (error, n) => {
      if (error) return reject(error);
      if (n === 0) return resolve(false);
      got += n;
      if (got < length) step();
      else resolve(true);
    });
    step();
  });
}

/**
 * The batches in [start, start + count) of the file behind `fd`, each fully
 * checked (length, magic, CRC-32C, record count), with positions relative
 * to `start`; or the first problem. The region must be whole batches.
 */
export async function checkReceivedBatches(fd: number, start: number, count: number): Promise<BatchInfo[] | BatchProblem> {
  const batches: BatchInfo[] = [];
  let buffer = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
  if (count === 0) return { reason: 'no record batch in the request', position: 0 };
  for (let at = 0; at < count;) {
    const left = count - at;
    if (left < BATCH_HEADER_BYTES) return { reason: `a batch header needs ${BATCH_HEADER_BYTES} bytes, ${left} left`, position: at };
    if (!await readExactly(fd, buffer, LOG_OVERHEAD_BYTES, start + at)) return { reason: 'the received bytes are missing', position: at };
    const size = LOG_OVERHEAD_BYTES + buffer.readInt32BE(8);
    if (size < BATCH_HEADER_BYTES || size > left) return { reason: `batch of ${size} bytes, ${left} present`, position: at };
    if (buffer.length < size) buffer = Buffer.allocUnsafe(size);
    if (!await readExactly(fd, buffer, size, start + at)) return { reason: 'the received bytes are missing', position: at };
    const checked = checkBatch(buffer, 0, size);
    if (isProblem(checked)) return { reason: checked.reason, position: at };
    if (isTransactional(checked.attributes)) return { reason: 'transactional and control batches are not supported by this broker', position: at };
    checked.position = at;
    batches.push(checked);
    at += size;
  }
  return batches;
}

/**
 * Writes each batch's base offset (consecutive from `firstOffset`) and a
 * leader epoch of 0 at its place in the file, through `fd` with pwrite.
 * Sets `baseOffset` on each batch. Neither field is covered by the CRC.
 */
export async function patchReceivedBatches(fd: number, start: number, batches: BatchInfo[], firstOffset: number): Promise<void> {
  let next = firstOffset;
  const header = Buffer.alloc(16);
  for (const batch of batches) {
    const high = Math.floor(next / TWO_32);
    header.writeInt32BE(high, 0);
    header.writeUInt32BE(next - high * TWO_32, 4);
    header.writeInt32BE(0, 12);
    const position = start + batch.position;
    await new Promise<void>((resolve, reject) => {
      // Offset (8) and, after the untouched length (4), the epoch (4).
      fs.write(fd, header, 0, 8, position, (error) => {
        if (error) return reject(error);
        fs.write(fd, header, 12, 4, position + 12, (epochError) => (epochError ? reject(epochError) : resolve()));
      });
    });
    batch.baseOffset = next;
    next += batch.lastOffsetDelta + 1;
  }
}
