/**
 * SyncGroup (key 14), versions 0-3 (SyncGroupRequest.json / SyncGroupResponse.json).
 *
 *   request:  STRING group_id | INT32 generation_id | STRING member_id
 *             NULLABLE_STRING group_instance_id (v3+)
 *             ARRAY assignments [STRING member_id, BYTES assignment]   (the leader's; empty from others)
 *   response: INT32 throttle_time_ms (v1+) | INT16 error_code | BYTES assignment
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export function decodeSyncGroupRequest(reader: ProtocolReader, version: number): SyncGroupRequest {
  const groupId = reader.string();
  const generationId = reader.int32();
  const memberId = reader.string();
  const groupInstanceId = version >= 3 ? reader.nullableString() : null;
  const assignments = reader.array((r) => ({ memberId: r.string(), assignment: Buffer.from(r.bytes()) }), 6);
  return { groupId, generationId, memberId, groupInstanceId, assignments };
}

export function encodeSyncGroupResponse(writer: ProtocolWriter, version: number, errorCode: number, assignment: Buffer): void {
  if (version >= 1) writer.int32(0);
  writer.int16(errorCode).bytes(assignment);
}
