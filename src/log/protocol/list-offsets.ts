/**
 * ListOffsets (key 2), versions 1-5 (ListOffsetsRequest.json / ListOffsetsResponse.json).
 *
 *   request:  INT32 replica_id | INT8 isolation_level (v2+)
 *             ARRAY topics [STRING name, ARRAY partitions [INT32 index,
 *               INT32 current_leader_epoch (v4+), INT64 timestamp]]
 *   response: INT32 throttle_time_ms (v2+)
 *             ARRAY topics [STRING name, ARRAY partitions [INT32 index, INT16 error_code,
 *               INT64 timestamp, INT64 offset, INT32 leader_epoch (v4+)]]
 *
 * timestamp -1 asks for the latest offset (the next one to be written),
 * -2 for the earliest (the log start offset); any other value for the
 * first offset whose batch holds a record at or after it.
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;

export interface ListOffsetsRequest {
  isolationLevel: number;
  topics: { name: string; partitions: { index: number; timestamp: number }[] }[];
}

export function decodeListOffsetsRequest(reader: ProtocolReader, version: number): ListOffsetsRequest {
  reader.int32(); // replica_id
  const isolationLevel = version >= 2 ? reader.int8() : 0;
  const topics = reader.array((r) => ({
    name: r.string(),
    partitions: r.array((p) => {
      const index = p.int32();
      if (version >= 4) p.int32();
      return { index, timestamp: p.int64() };
    }, 12),
  }), 6);
  return { isolationLevel, topics };
}

export interface ListOffsetsPartitionResult {
  index: number;
  errorCode: number;
  timestamp: number;
  offset: number;
}

export function encodeListOffsetsResponse(writer: ProtocolWriter, version: number, topics: { name: string; partitions: ListOffsetsPartitionResult[] }[]): void {
  if (version >= 2) writer.int32(0);
  writer.array(topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (pw, p) => {
      pw.int32(p.index).int16(p.errorCode).int64(p.timestamp).int64(p.offset);
      if (version >= 4) pw.int32(0);
    });
  });
}
