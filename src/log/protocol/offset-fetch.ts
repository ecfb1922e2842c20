/**
 * OffsetFetch (key 9), versions 1-5 (OffsetFetchRequest.json / OffsetFetchResponse.json).
 *
 *   request:  STRING group_id | ARRAY topics [STRING name, ARRAY partition_indexes] (v2+: null = all)
 *   response: INT32 throttle_time_ms (v3+)
 *             ARRAY topics [STRING name, ARRAY partitions [INT32 index, INT64 committed_offset,
 *               INT32 committed_leader_epoch (v5+), NULLABLE_STRING metadata, INT16 error_code]]
 *             INT16 error_code (v2+)
 *
 * A partition without a committed offset answers offset -1, no error.
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface OffsetFetchRequest {
  groupId: string;
  /** null: every partition the group has committed. */
  topics: { name: string; partitions: number[] }[] | null;
}

export function decodeOffsetFetchRequest(reader: ProtocolReader): OffsetFetchRequest {
  const groupId = reader.string();
  const topics = reader.nullableArray((r) => ({ name: r.string(), partitions: r.int32Array() }), 6);
  return { groupId, topics };
}

export interface OffsetFetchPartition {
  index: number;
  offset: number;
  metadata: string | null;
  errorCode: number;
}

export function encodeOffsetFetchResponse(
  writer: ProtocolWriter,
  version: number,
  errorCode: number,
  topics: { name: string; partitions: OffsetFetchPartition[] }[],
): void {
  if (version >= 3) writer.int32(0);
  writer.array(topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (pw, p) => {
      pw.int32(p.index).int64(p.offset);
      if (version >= 5) pw.int32(-1);
      pw.nullableString(p.metadata).int16(p.errorCode);
    });
  });
  if (version >= 2) writer.int16(errorCode);
}
