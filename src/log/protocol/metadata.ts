/**
 * Metadata (key 3), versions 0-8 (MetadataRequest.json / MetadataResponse.json).
 *
 *   request:  ARRAY topics [STRING name]    v0: empty = all topics; v1+: null = all, empty = none
 *             BOOLEAN allow_auto_topic_creation                                    (v4+)
 *             BOOLEAN include_cluster_authorized_operations,
 *             BOOLEAN include_topic_authorized_operations                           (v8+)
 *   response: INT32 throttle_time_ms (v3+)
 *             ARRAY brokers [INT32 node_id, STRING host, INT32 port, NULLABLE_STRING rack (v1+)]
 *             NULLABLE_STRING cluster_id (v2+) | INT32 controller_id (v1+)
 *             ARRAY topics [INT16 error_code, STRING name, BOOLEAN is_internal (v1+),
 *               ARRAY partitions [INT16 error_code, INT32 partition_index, INT32 leader_id,
 *                 INT32 leader_epoch (v7+), ARRAY replica_nodes, ARRAY isr_nodes,
 *                 ARRAY offline_replicas (v5+)],
 *               INT32 topic_authorized_operations (v8+)]
 *             INT32 cluster_authorized_operations (v8+)
 */
import type { ProtocolReader } from './reader.js';
import type { ProtocolWriter } from './writer.js';

/** "Authorized operations were not asked for / are not computed" (INT32_MIN). */
const OPERATIONS_OMITTED = -2147483648;

export interface MetadataRequest {
  /** null: every topic. */
  topics: string[] | null;
  allowAutoTopicCreation: boolean;
}

export function decodeMetadataRequest(reader: ProtocolReader, version: number): MetadataRequest {
  let topics = reader.nullableArray((r) => r.string(), 2);
  if (version === 0 && topics !== null && topics.length === 0) topics = null;
  const allowAutoTopicCreation = version >= 4 ? reader.bool() : true;
  if (version >= 8) {
    reader.bool();
    reader.bool();
  }
  return { topics, allowAutoTopicCreation };
}

export interface MetadataBroker {
  nodeId: number;
  host: string;
  port: number;
}

export interface MetadataPartition {
  errorCode: number;
  index: number;
  leaderId: number;
}

export interface MetadataTopic {
  errorCode: number;
  name: string;
  partitions: MetadataPartition[];
}

export interface MetadataResponse {
  brokers: MetadataBroker[];
  clusterId: string;
  controllerId: number;
  topics: MetadataTopic[];
}

export function encodeMetadataResponse(writer: ProtocolWriter, version: number, response: MetadataResponse): void {
  if (version >= 3) writer.int32(0);
  writer.array(response.brokers, (w, b) => {
    w.int32(b.nodeId).string(b.host).int32(b.port);
    if (version >= 1) w.nullableString(null);
  });
  if (version >= 2) writer.nullableString(response.clusterId);
  if (version >= 1) writer.int32(response.controllerId);
  writer.array(response.topics, (w, t) => {
    w.int16(t.errorCode).string(t.name);
    if (version >= 1) w.bool(false);
    w.array(t.partitions, (pw, p) => {
      pw.int16(p.errorCode).int32(p.index).int32(p.leaderId);
      if (version >= 7) pw.int32(0);
      const replicas = p.leaderId >= 0 ? [p.leaderId] : [];
      pw.int32Array(replicas).int32Array(replicas);
      if (version >= 5) pw.int32Array([]);
    });
    if (version >= 8) w.int32(OPERATIONS_OMITTED);
  });
  if (version >= 8) writer.int32(OPERATIONS_OMITTED);
}
