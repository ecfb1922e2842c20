/**
 * Heartbeat (key 12), versions 0-3 (HeartbeatRequest.json / HeartbeatResponse.json).
 *
 *   request:  STRING group_id | INT32 generation_id | STRING member_id
 *             NULLABLE_STRING group_instance_id (v3+)
 *   response: INT32 throttle_time_ms (v1+) | INT16 error_code
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
}

export function decodeHeartbeatRequest(reader: ProtocolReader, version: number): HeartbeatRequest {
  const groupId = reader.string();
  const generationId = reader.int32();
  const memberId = reader.string();
  if (version >= 3) reader.nullableString();
  return { groupId, generationId, memberId };
}

export function encodeHeartbeatResponse(writer: ProtocolWriter, version: number, errorCode: number): void {
  if (version >= 1) writer.int32(0);
  writer.int16(errorCode);
}
