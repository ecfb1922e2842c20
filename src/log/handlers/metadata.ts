/**
 * Metadata: this broker is every partition's leader, its only replica and
 * the controller. Unknown topics are created on first use when the client
 * allows it (and the broker does), as Kafka's auto.create.topics.enable.
 */
import type { BrokerState, Handler } from '../context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { decodeMetadataRequest, encodeMetadataResponse, type MetadataTopic } from '../protocol/metadata.js';
import { isValidTopicName } from '../storage/log-store.js';

function describeTopic(state: BrokerState, name: string): MetadataTopic {
  const partitions = state.store.partitions(name) ?? [];
  return {
    errorCode: ErrorCode.NONE,
    name,
    partitions: partitions.map((_, index) => ({ errorCode: ErrorCode.NONE, index, leaderId: state.settings.nodeId })),
  };
}

export const handleMetadata: Handler = async (state, { header, reader, socket }, writer) => {
  const request = decodeMetadataRequest(reader, header.apiVersion);
  const topics: MetadataTopic[] = [];
  for (const name of request.topics ?? state.store.topicNames()) {
    if (state.store.partitions(name) !== undefined) {
      topics.push(describeTopic(state, name));
    } else if (!isValidTopicName(name)) {
      topics.push({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name, partitions: [] });
    } else if (request.allowAutoTopicCreation && state.settings.autoCreateTopics) {
      await state.store.createTopic(name, state.settings.partitions);
      topics.push(describeTopic(state, name));
    } else {
      topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, partitions: [] });
    }
  }
  const { host, port } = state.advertisedAddress(socket);
  encodeMetadataResponse(writer, header.apiVersion, {
    brokers: [{ nodeId: state.settings.nodeId, host, port }],
    clusterId: state.clusterId,
    controllerId: state.settings.nodeId,
    topics,
  });
  return 'respond' as const;
};
