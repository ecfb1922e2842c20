/**
 * Fetch (key 1), versions 4-11 (FetchRequest.json / FetchResponse.json).
 * v4 is the first version whose consumers read record batches of magic 2.
 *
 *   request:  INT32 replica_id | INT32 max_wait_ms | INT32 min_bytes | INT32 max_bytes
 *             INT8 isolation_level | INT32 session_id (v7+) | INT32 session_epoch (v7+)
 *             ARRAY topics [STRING name, ARRAY partitions [INT32 partition,
 *               INT32 current_leader_epoch (v9+), INT64 fetch_offset,
 *               INT64 log_start_offset (v5+), INT32 partition_max_bytes]]
 *             ARRAY forgotten_topics [STRING name, ARRAY [INT32]] (v7+) | STRING rack_id (v11+)
 *
 *   response: INT32 throttle_time_ms | INT16 error_code (v7+) | INT32 session_id (v7+)
 *             ARRAY topics [STRING topic, ARRAY partitions [INT32 partition, INT16 error_code,
 *               INT64 high_watermark, INT64 last_stable_offset, INT64 log_start_offset (v5+),
 *               ARRAY aborted_transactions, INT32 preferred_read_replica (v11+),
 *               RECORDS: INT32 size, then the batches]]
 *
 * The response is a chain, not a buffer: everything up to each partition's
 * RECORDS size comes from memory, the batches themselves are regions of
 * segment files, sent with sendfile:
 *
 *   [ size | correlation | throttle ... partition 0 fields | records size ][ seg 00000.log 4096..+1 MiB ][ partition 1 fields ... ][ seg ... ]
 */
import type { ChainFileRegion, ChainPart } from '../../transfer/send-chain.js';
import type { ProtocolReader } from './reader.js';
import { ProtocolWriter } from './writer.js';

export interface FetchPartitionRequest {
  partition: number;
  fetchOffset: number;
  maxBytes: number;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  sessionId: number;
  sessionEpoch: number;
  topics: { name: string; partitions: FetchPartitionRequest[] }[];
}

export function decodeFetchRequest(reader: ProtocolReader, version: number): FetchRequest {
  reader.int32(); // replica_id: -1 for consumers; followers do not exist here
  const maxWaitMs = reader.int32();
  const minBytes = reader.int32();
  const maxBytes = reader.int32();
  const isolationLevel = reader.int8();
  const sessionId = version >= 7 ? reader.int32() : 0;
  const sessionEpoch = version >= 7 ? reader.int32() : -1;
  const topics = reader.array((r) => ({
    name: r.string(),
    partitions: r.array((p) => {
      const partition = p.int32();
      if (version >= 9) p.int32(); // current_leader_epoch: there is one epoch, 0
      const fetchOffset = p.int64();
      if (version >= 5) p.int64(); // log_start_offset: only followers send one
      return { partition, fetchOffset, maxBytes: p.int32() };
    }, 16),
  }), 6);
  if (version >= 7) reader.array((r) => ({ name: r.string(), partitions: r.int32Array() }), 6);
  if (version >= 11) reader.string();
  return { maxWaitMs, minBytes, maxBytes, isolationLevel, sessionId, sessionEpoch, topics };
}

export interface FetchPartitionResult {
  partition: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  /** Segment slices, in order; their lengths sum to the RECORDS size. */
  records: ChainFileRegion[];
}

export interface FetchResponse {
  errorCode: number;
  sessionId: number;
  topics: { name: string; partitions: FetchPartitionResult[] }[];
}

function recordBytes(regions: readonly ChainFileRegion[]): number {
  let total = 0;
  for (const region of regions) total += region.length;
  return total;
}

/**
 * Lays out the response body as chain parts: buffers for the fields, the
 * partitions' regions in between. Returns the parts and their total size.
 */
export function encodeFetchResponse(version: number, response: FetchResponse): { parts: ChainPart[]; bytes: number } {
  const parts: ChainPart[] = [];
  let bytes = 0;
  let writer = new ProtocolWriter();
  const flush = () => {
    if (writer.length > 0) {
      const chunk = writer.finish();
      parts.push(chunk);
      bytes += chunk.length;
    }
    writer = new ProtocolWriter();
  };
  writer.int32(0);
  if (version >= 7) writer.int16(response.errorCode).int32(response.sessionId);
  writer.int32(response.topics.length);
  for (const topic of response.topics) {
    writer.string(topic.name).int32(topic.partitions.length);
    for (const p of topic.partitions) {
      writer.int32(p.partition).int16(p.errorCode).int64(p.highWatermark);
      writer.int64(p.highWatermark); // last_stable_offset: no transactions, so the high watermark
      if (version >= 5) writer.int64(p.logStartOffset);
      writer.int32(0); // aborted_transactions: none
      if (version >= 11) writer.int32(-1); // preferred_read_replica: none, read from the leader
      const size = recordBytes(p.records);
      writer.int32(size);
      if (size > 0) {
        flush();
        for (const region of p.records) parts.push(region);
        bytes += size;
      }
    }
  }
  flush();
  return { parts, bytes };
}
