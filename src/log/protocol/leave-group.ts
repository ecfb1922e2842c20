/**
 * LeaveGroup (key 13), versions 0-3 (LeaveGroupRequest.json / LeaveGroupResponse.json).
 *
 *   request v0-2: STRING group_id | STRING member_id
 *   request v3:   STRING group_id | ARRAY members [STRING member_id, NULLABLE_STRING group_instance_id]
 *   response:     INT32 throttle_time_ms (v1+) | INT16 error_code
 *                 ARRAY members [STRING member_id, NULLABLE_STRING group_instance_id, INT16 error_code] (v3+)
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface LeavingMember {
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupRequest {
  groupId: string;
  members: LeavingMember[];
}

export function decodeLeaveGroupRequest(reader: ProtocolReader, version: number): LeaveGroupRequest {
  const groupId = reader.string();
  if (version < 3) return { groupId, members: [{ memberId: reader.string(), groupInstanceId: null }] };
  const members = reader.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() }), 4);
  return { groupId, members };
}

export function encodeLeaveGroupResponse(
  writer: ProtocolWriter,
  version: number,
  errorCode: number,
  members: (LeavingMember & { errorCode: number })[],
): void {
  if (version >= 1) writer.int32(0);
  writer.int16(errorCode);
  if (version >= 3) writer.array(members, (w, m) => w.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode));
}
