/**
 * OffsetCommit (key 8), versions 0-7 (OffsetCommitRequest.json / OffsetCommitResponse.json).
 *
 *   request:  STRING group_id | INT32 generation_id (v1+) | STRING member_id (v1+)
 *             NULLABLE_STRING group_instance_id (v7+) | INT64 retention_time_ms (v2-4)
 *             ARRAY topics [STRING name, ARRAY partitions [INT32 index, INT64 committed_offset,
 *               INT32 committed_leader_epoch (v6+), INT64 commit_timestamp (v1 only),
 *               NULLABLE_STRING metadata]]
 *   response: INT32 throttle_time_ms (v3+) | ARRAY topics [STRING name, ARRAY partitions [INT32 index, INT16 error_code]]
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface OffsetCommitPartition {
  index: number;
  offset: number;
  metadata: string | null;
}

export interface OffsetCommitRequest {
  groupId: string;
  /** -1 with an empty member id: a commit from outside any generation (a "simple" consumer). */
  generationId: number;
  memberId: string;
  topics: { name: string; partitions: OffsetCommitPartition[] }[];
}

export function decodeOffsetCommitRequest(reader: ProtocolReader, version: number): OffsetCommitRequest {
  const groupId = reader.string();
  const generationId = version >= 1 ? reader.int32() : -1;
  const memberId = version >= 1 ? reader.string() : '';
  if (version >= 7) reader.nullableString();
  if (version >= 2 && version <= 4) reader.int64(); // retention: offsets are kept until the group commits again
  const topics = reader.array((r) => ({
    name: r.string(),
    partitions: r.array((p) => {
      const index = p.int32();
      const offset = p.int64();
      if (version >= 6) p.int32();
      if (version === 1) p.int64();
      return { index, offset, metadata: p.nullableString() };
    }, 14),
  }), 6);
  return { groupId, generationId, memberId, topics };
}

export function encodeOffsetCommitResponse(
  writer: ProtocolWriter,
  version: number,
  topics: { name: string; partitions: { index: number; errorCode: number }[] }[],
): void {
  if (version >= 3) writer.int32(0);
  writer.array(topics, (w, t) => w.string(t.name).array(t.partitions, (pw, p) => pw.int32(p.index).int16(p.errorCode)));
}
