/**
 * JoinGroup (key 11), versions 0-5 (JoinGroupRequest.json / JoinGroupResponse.json).
 *
 *   request:  STRING group_id | INT32 session_timeout_ms | INT32 rebalance_timeout_ms (v1+)
 *             STRING member_id | NULLABLE_STRING group_instance_id (v5+) | STRING protocol_type
 *             ARRAY protocols [STRING name, BYTES metadata]
 *   response: INT32 throttle_time_ms (v2+) | INT16 error_code | INT32 generation_id
 *             STRING protocol_name | STRING leader | STRING member_id
 *             ARRAY members [STRING member_id, NULLABLE_STRING group_instance_id (v5+), BYTES metadata]
 *
 * The metadata is opaque to the broker (the client's subscription, in the
 * "consumer" protocol type): it is handed to the leader as it came.
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
}

export function decodeJoinGroupRequest(reader: ProtocolReader, version: number): JoinGroupRequest {
  const groupId = reader.string();
  const sessionTimeoutMs = reader.int32();
  // Without a rebalance timeout (v0) Kafka uses the session timeout.
  const rebalanceTimeoutMs = version >= 1 ? reader.int32() : sessionTimeoutMs;
  const memberId = reader.string();
  const groupInstanceId = version >= 5 ? reader.nullableString() : null;
  const protocolType = reader.string();
  // Copies: the frame's buffer is gone once the request is answered, and
  // the member's metadata lives as long as the member.
  const protocols = reader.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }), 6);
  return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, groupInstanceId, protocolType, protocols };
}

export interface JoinGroupResponse {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export function encodeJoinGroupResponse(writer: ProtocolWriter, version: number, r: JoinGroupResponse): void {
  if (version >= 2) writer.int32(0);
  writer.int16(r.errorCode).int32(r.generationId).string(r.protocolName).string(r.leader).string(r.memberId);
  writer.array(r.members, (w, m) => {
    w.string(m.memberId);
    if (version >= 5) w.nullableString(m.groupInstanceId);
    w.bytes(m.metadata);
  });
}
