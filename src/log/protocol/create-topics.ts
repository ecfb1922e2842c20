/**
 * CreateTopics (key 19), versions 0-4 (CreateTopicsRequest.json / CreateTopicsResponse.json).
 *
 *   request:  ARRAY topics [STRING name, INT32 num_partitions, INT16 replication_factor,
 *               ARRAY assignments [INT32 partition_index, ARRAY broker_ids],
 *               ARRAY configs [STRING name, NULLABLE_STRING value]]
 *             INT32 timeout_ms | BOOLEAN validate_only (v1+)
 *   response: INT32 throttle_time_ms (v2+)
 *             ARRAY topics [STRING name, INT16 error_code, NULLABLE_STRING error_message (v1+)]
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

export interface CreatableTopic {
  name: string;
  /** -1: the broker's default. */
  numPartitions: number;
  replicationFactor: number;
  /** Manual assignment: one entry per partition. */
  assignments: { partitionIndex: number; brokerIds: number[] }[];
  configs: { name: string; value: string | null }[];
}

export interface CreateTopicsRequest {
  topics: CreatableTopic[];
  validateOnly: boolean;
}

export function decodeCreateTopicsRequest(reader: ProtocolReader, version: number): CreateTopicsRequest {
  const topics = reader.array((r) => ({
    name: r.string(),
    numPartitions: r.int32(),
    replicationFactor: r.int16(),
    assignments: r.array((a) => ({ partitionIndex: a.int32(), brokerIds: a.int32Array() }), 8),
    configs: r.array((c) => ({ name: c.string(), value: c.nullableString() }), 4),
  }), 16);
  reader.int32(); // timeout_ms: creation is synchronous here
  const validateOnly = version >= 1 ? reader.bool() : false;
  return { topics, validateOnly };
}

export interface CreateTopicResult {
  name: string;
  errorCode: number;
  errorMessage: string | null;
}

export function encodeCreateTopicsResponse(writer: ProtocolWriter, version: number, results: CreateTopicResult[]): void {
  if (version >= 2) writer.int32(0);
  writer.array(results, (w, t) => {
    w.string(t.name).int16(t.errorCode);
    if (version >= 1) w.nullableString(t.errorMessage);
  });
}
