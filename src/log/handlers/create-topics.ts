/**
 * CreateTopics: a topic is its partitions' directories. Replication factors
 * above 1 are refused (there is one node); topic configs are accepted and
 * ignored (retention and segment size are broker-wide here).
 */
import type { Handler } from '../context.js';
import { decodeCreateTopicsRequest, encodeCreateTopicsResponse, type CreateTopicResult } from '../protocol/create-topics.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { isValidTopicName } from '../storage/log-store.js';

/** Each partition holds three fds for its active segment and two per closed one. */
const MAX_PARTITIONS = 1000;

export const handleCreateTopics: Handler = async (state, { header, reader }, writer) => {
  const request = decodeCreateTopicsRequest(reader, header.apiVersion);
  const results: CreateTopicResult[] = [];
  for (const topic of request.topics) {
    const fail = (errorCode: number, errorMessage: string) => results.push({ name: topic.name, errorCode, errorMessage });
    const count = topic.assignments.length > 0 ? topic.assignments.length : topic.numPartitions === -1 ? state.settings.partitions : topic.numPartitions;
    if (!isValidTopicName(topic.name)) fail(ErrorCode.INVALID_TOPIC_EXCEPTION, 'topic names are 1-249 characters of [a-zA-Z0-9._-]');
    else if (topic.replicationFactor > 1) fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'this broker is a single node: the replication factor can only be 1');
    else if (count < 1 || count > MAX_PARTITIONS) fail(ErrorCode.INVALID_PARTITIONS, `partitions must be 1 to ${MAX_PARTITIONS}`);
    else if (state.store.partitions(topic.name) !== undefined) fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${topic.name}' already exists`);
    else if (request.validateOnly) results.push({ name: topic.name, errorCode: ErrorCode.NONE, errorMessage: null });
    else {
      const outcome = await state.store.createTopic(topic.name, count);
      if (outcome === 'created') results.push({ name: topic.name, errorCode: ErrorCode.NONE, errorMessage: null });
      else fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${topic.name}' already exists`);
    }
  }
  encodeCreateTopicsResponse(writer, header.apiVersion, results);
  return 'respond' as const;
};
