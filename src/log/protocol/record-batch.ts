/**
 * Record batches (magic 2, DefaultRecordBatch.java): the unit Kafka stores
 * and serves. The broker reads only the batch header; the records after it
 * (possibly compressed with gzip, snappy, lz4 or zstd) are never decoded.
 *
 *   offset  field                 bytes   note
 *        0  baseOffset              8     set by the broker on append
 *        8  batchLength             4     bytes after this field
 *       12  partitionLeaderEpoch    4     set by the broker (not covered by the CRC)
 *       16  magic                   1     2
 *       17  crc                     4     CRC-32C of bytes [21, 12 + batchLength)
 *       21  attributes              2     bits 0-2 compression, 3 timestamp type,
 *                                         4 transactional, 5 control
 *       23  lastOffsetDelta         4
 *       27  baseTimestamp           8
 *       35  maxTimestamp            8
 *       43  producerId              8
 *       51  producerEpoch           2
 *       53  baseSequence            4
 *       57  recordCount             4
 *       61  records ...
 *
 * Because the CRC starts at `attributes`, the broker can set the base offset
 * and leader epoch without recomputing it: the bytes a producer checksummed
 * are the bytes every consumer receives.
 */
import { crc32c } from './crc32c.js';

/** baseOffset + batchLength: the bytes before the length-counted part (Kafka's LOG_OVERHEAD). */
export const LOG_OVERHEAD_BYTES = 12;
/** The whole fixed header; a batch is at least this long. */
export const BATCH_HEADER_BYTES = 61;
/** The header fields a storage scan needs: up to and including maxTimestamp. */
export const BATCH_SCAN_BYTES = 43;
export const MAGIC_V2 = 2;

const BATCH_LENGTH_AT = 8;
const LEADER_EPOCH_AT = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const MAX_TIMESTAMP_AT = 35;
const RECORD_COUNT_AT = 57;

const COMPRESSION_MASK = 0x07;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;
const MAX_COMPRESSION_CODEC = 4; // zstd

const TWO_32 = 2 ** 32;

/** What the broker learns from one batch header. */
export interface BatchInfo {
  /** Where the batch starts in the buffer (or file) it was read from. */
  position: number;
  /** Whole batch, LOG_OVERHEAD included. */
  size: number;
  baseOffset: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  attributes: number;
}

export type BatchProblem = { reason: string; position: number };

function readInt64(buffer: Uint8Array & Buffer, at: number): number {
  return buffer.readInt32BE(at) * TWO_32 + buffer.readUInt32BE(at + 4);
}

function writeInt64(buffer: Buffer, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  buffer.writeInt32BE(high, at);
  buffer.writeUInt32BE(value - high * TWO_32, at + 4);
}

/** Compression codec of a batch (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd). */
export function compressionOf(attributes: number): number {
  return attributes & COMPRESSION_MASK;
}

/**
 * Reads the scan fields of the batch at `at` (needs BATCH_SCAN_BYTES there).
 * Returns undefined when the length field cannot be a batch.
 */
export function readBatchHeader(buffer: Buffer, at: number, position = at): BatchInfo | undefined {
  const batchLength = buffer.readInt32BE(at + BATCH_LENGTH_AT);
  if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES || buffer[at + MAGIC_AT] !== MAGIC_V2) return undefined;
  return {
    position,
    size: LOG_OVERHEAD_BYTES + batchLength,
    baseOffset: readInt64(buffer, at),
    lastOffsetDelta: buffer.readInt32BE(at + LAST_OFFSET_DELTA_AT),
    maxTimestamp: readInt64(buffer, at + MAX_TIMESTAMP_AT),
    attributes: buffer.readInt16BE(at + ATTRIBUTES_AT),
  };
}

/**
 * Checks one whole batch at `at` in `buffer` (which holds at least `limit`
 * bytes from the start): the length fits, magic is 2, the CRC-32C matches,
 * and the header's record count agrees with its offset range. Returns the
 * batch, or the problem.
 */
export function checkBatch(buffer: Buffer, at: number, limit: number): BatchInfo | BatchProblem {
  const left = limit - at;
  if (left < BATCH_HEADER_BYTES) return { reason: `a batch header needs ${BATCH_HEADER_BYTES} bytes, ${left} left`, position: at };
  const header = readBatchHeader(buffer, at);
  if (buffer[at + MAGIC_AT] !== MAGIC_V2) return { reason: `magic ${buffer[at + MAGIC_AT]} (only magic 2 record batches are stored)`, position: at };
  if (header === undefined) return { reason: `batch length ${buffer.readInt32BE(at + BATCH_LENGTH_AT)} is shorter than a batch header`, position: at };
  if (header.size > left) return { reason: `batch of ${header.size} bytes, only ${left} present`, position: at };
  const stored = buffer.readUInt32BE(at + CRC_AT);
  const computed = crc32c(buffer.subarray(at + ATTRIBUTES_AT, at + header.size));
  if (stored !== computed) return { reason: `CRC-32C mismatch (stored ${stored.toString(16)}, computed ${computed.toString(16)})`, position: at };
  const count = buffer.readInt32BE(at + RECORD_COUNT_AT);
  if (header.lastOffsetDelta < 0 || count !== header.lastOffsetDelta + 1) {
    return { reason: `record count ${count} does not match lastOffsetDelta ${header.lastOffsetDelta}`, position: at };
  }
  if (compressionOf(header.attributes) > MAX_COMPRESSION_CODEC) return { reason: `unknown compression codec ${compressionOf(header.attributes)}`, position: at };
  return header;
}

export function isProblem<T extends object>(value: T | BatchProblem): value is BatchProblem {
  return 'reason' in value;
}

/** Whether a batch belongs to a transaction or is a control batch (not supported here). */
export function isTransactional(attributes: number): boolean {
  return (attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG)) !== 0;
}

/**
 * Splits a produce request's record set into batches, checking each. The
 * set must be whole batches end to end: a producer never sends a partial
 * one. Returns the batches, or the first problem.
 */
export function checkRecordSet(records: Buffer): BatchInfo[] | BatchProblem {
  const batches: BatchInfo[] = [];
  if (records.length === 0) return { reason: 'no record batch in the request', position: 0 };
  for (let at = 0; at < records.length;) {
    const checked = checkBatch(records, at, records.length);
    if (isProblem(checked)) return checked;
    batches.push(checked);
    at += checked.size;
  }
  return batches;
}

/**
 * Sets each batch's base offset, consecutively from `firstOffset`, and its
 * partition leader epoch (0: this broker is the only leader there has
 * been). Neither field is covered by the CRC. Returns the next free offset.
 */
export function assignOffsets(records: Buffer, batches: readonly BatchInfo[], firstOffset: number): number {
  let next = firstOffset;
  for (const batch of batches) {
    writeInt64(records, batch.position, next);
    records.writeInt32BE(0, batch.position + LEADER_EPOCH_AT);
    batch.baseOffset = next;
    next += batch.lastOffsetDelta + 1;
  }
  return next;
}
