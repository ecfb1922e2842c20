/**
 * FindCoordinator (key 10), versions 0-2 (FindCoordinatorRequest.json / FindCoordinatorResponse.json).
 *
 *   request:  STRING key | INT8 key_type (v1+: 0 group, 1 transaction)
 *   response: INT32 throttle_time_ms (v1+) | INT16 error_code | NULLABLE_STRING error_message (v1+)
 *             INT32 node_id | STRING host | INT32 port
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export const KEY_TYPE_GROUP = 0;

export interface FindCoordinatorRequest {
  key: string;
  keyType: number;
}

export function decodeFindCoordinatorRequest(reader: ProtocolReader, version: number): FindCoordinatorRequest {
  const key = reader.string();
  return { key, keyType: version >= 1 ? reader.int8() : KEY_TYPE_GROUP };
}

export interface FindCoordinatorResponse {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export function encodeFindCoordinatorResponse(writer: ProtocolWriter, version: number, r: FindCoordinatorResponse): void {
  if (version >= 1) writer.int32(0);
  writer.int16(r.errorCode);
  if (version >= 1) writer.nullableString(r.errorMessage);
  writer.int32(r.nodeId).string(r.host).int32(r.port);
}
