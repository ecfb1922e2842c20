/**
 * Produce (key 0), versions 0-8 (ProduceRequest.json / ProduceResponse.json).
 *
 *   request:  NULLABLE_STRING transactional_id (v3+) | INT16 acks | INT32 timeout_ms
 *             ARRAY topics [STRING name, ARRAY partitions [INT32 index, NULLABLE_BYTES records]]
 *   response: ARRAY topics [STRING name, ARRAY partitions [INT32 index, INT16 error_code,
 *               INT64 base_offset, INT64 log_append_time_ms (v2+), INT64 log_start_offset (v5+),
 *               ARRAY record_errors [INT32 batch_index, NULLABLE_STRING message] (v8+),
 *               NULLABLE_STRING error_message (v8+)]]
 *             INT32 throttle_time_ms (v1+)
 *
 * Why v0-2 are spoken although their clients send message sets of magic 0
 * or 1, which this broker refuses (CORRUPT_MESSAGE: only magic 2 batches
 * are stored): librdkafka (kcat) compresses with gzip, snappy or lz4 only
 * when the broker's Produce range reaches down to v0 — it still dates those
 * codecs by that version. Without v0 it silently sends them uncompressed.
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface ProducePartitionData {
  index: number;
  /** A view into the request frame (no copy); the broker sets offsets in place. */
  records: Buffer | null;
}

export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: { name: string; partitions: ProducePartitionData[] }[];
}

export function decodeProduceRequest(reader: ProtocolReader, version: number): ProduceRequest {
  const transactionalId = version >= 3 ? reader.nullableString() : null;
  const acks = reader.int16();
  const timeoutMs = reader.int32();
  const topics = reader.array((r) => ({
    name: r.string(),
    partitions: r.array((p) => ({ index: p.int32(), records: p.nullableBytes() }), 8),
  }), 6);
  return { transactionalId, acks, timeoutMs, topics };
}

export interface ProducePartitionResult {
  index: number;
  errorCode: number;
  baseOffset: number;
  logStartOffset: number;
  errorMessage: string | null;
}

export interface ProduceResponse {
  topics: { name: string; partitions: ProducePartitionResult[] }[];
}

export function encodeProduceResponse(writer: ProtocolWriter, version: number, response: ProduceResponse): void {
  writer.array(response.topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (pw, p) => {
      pw.int32(p.index).int16(p.errorCode).int64(p.baseOffset);
      if (version >= 2) pw.int64(-1); // log_append_time_ms: topics use CreateTime
      if (version >= 5) pw.int64(p.logStartOffset);
      if (version >= 8) pw.int32(0).nullableString(p.errorMessage);
    });
  });
  if (version >= 1) writer.int32(0);
}
