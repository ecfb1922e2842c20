/**
 * Builds record batches (magic 2) the way a producer does, for tests that
 * speak the protocol by hand: varint records, optional gzip, CRC-32C.
 */
import zlib from 'node:zlib';

import { crc32c } from '../../../src/log/protocol/crc32c.js';

export interface TestRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  timestampDelta?: number;
}

function varint(value: number): Buffer {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (zigzag >= 0x80) {
    bytes.push((zigzag % 0x80) | 0x80);
    zigzag = Math.floor(zigzag / 0x80);
  }
  bytes.push(zigzag);
  return Buffer.from(bytes);
}

function field(value: Buffer | string | null | undefined): Buffer {
  if (value === null || value === undefined) return varint(-1);
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return Buffer.concat([varint(bytes.length), bytes]);
}

function encodeRecord(record: TestRecord, offsetDelta: number): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]), // attributes
    varint(record.timestampDelta ?? 0),
    varint(offsetDelta),
    field(record.key),
    field(record.value),
    varint(0), // headers
  ]);
  return Buffer.concat([varint(body.length), body]);
}

export interface BatchOptions {
  baseTimestamp?: number;
  compression?: 'none' | 'gzip';
  /** Corrupt the CRC (for rejection tests). */
  badCrc?: boolean;
  magic?: number;
}

/** One batch holding `records`, with base offset 0 as producers send it. */
export function buildBatch(records: TestRecord[], options: BatchOptions = {}): Buffer {
  const baseTimestamp = options.baseTimestamp ?? Date.now();
  let payload = Buffer.concat(records.map((r, i) => encodeRecord(r, i)));
  let attributes = 0;
  if (options.compression === 'gzip') {
    payload = zlib.gzipSync(payload);
    attributes = 1;
  }
  const maxDelta = Math.max(0, ...records.map((r) => r.timestampDelta ?? 0));
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(0n, 0);
  header.writeInt32BE(61 - 12 + payload.length, 8);
  header.writeInt32BE(-1, 12);
  header.writeInt8(options.magic ?? 2, 16);
  header.writeInt16BE(attributes, 21);
  header.writeInt32BE(records.length - 1, 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(baseTimestamp + maxDelta), 35);
  header.writeBigInt64BE(-1n, 43);
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  header.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([header, payload]);
  const crc = crc32c(batch.subarray(21));
  batch.writeUInt32BE(options.badCrc ? (crc ^ 1) >>> 0 : crc, 17);
  return batch;
}

/** Reads the varint-encoded records back out of an uncompressed or gzip batch (values only). */
export function readBatchValues(batch: Buffer): (Buffer | null)[] {
  const attributes = batch.readInt16BE(21);
  let data = batch.subarray(61);
  if ((attributes & 7) === 1) data = zlib.gunzipSync(data);
  const count = batch.readInt32BE(57);
  let at = 0;
  const readVarint = () => {
    let result = 0;
    let shift = 1;
    for (;;) {
      const byte = data[at++]!;
      result += (byte & 0x7f) * shift;
      shift *= 0x80;
      if ((byte & 0x80) === 0) break;
    }
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  };
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    readVarint(); // length
    at += 1; // attributes
    readVarint(); // timestamp delta
    readVarint(); // offset delta
    const keyLength = readVarint();
    if (keyLength > 0) at += keyLength;
    const valueLength = readVarint();
    values.push(valueLength < 0 ? null : data.subarray(at, at + valueLength));
    if (valueLength > 0) at += valueLength;
    const headers = readVarint();
    if (headers !== 0) throw new Error('headers are not expected in test batches');
  }
  return values;
}

/** Splits a fetch response's record bytes into whole batches (a partial last one is dropped, as clients do). */
export function splitBatches(records: Buffer): Buffer[] {
  const batches: Buffer[] = [];
  for (let at = 0; at + 12 <= records.length;) {
    const size = 12 + records.readInt32BE(at + 8);
    if (at + size > records.length) break;
    batches.push(records.subarray(at, at + size));
    at += size;
  }
  return batches;
}
