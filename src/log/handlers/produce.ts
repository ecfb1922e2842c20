/**
 * Produce: check each partition's batches (length, magic, CRC-32C), append
 * them as they came (the broker only sets their base offsets), acknowledge.
 * acks 0, 1 and -1 are the same on one node apart from the answer: with 0
 * there is none, and an error closes the connection (as Kafka does, since
 * the producer has no other way to learn of it).
 */
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { decodeProduceRequest, encodeProduceResponse, type ProducePartitionResult } from '../protocol/produce.js';
import { checkRecordSet, isProblem, isTransactional } from '../protocol/record-batch.js';

export const handleProduce: Handler = async (state, { header, reader }, writer) => {
  const request = decodeProduceRequest(reader, header.apiVersion);
  const ackable = request.acks === 0 || request.acks === 1 || request.acks === -1;
  const topics = await Promise.all(request.topics.map(async (topic) => ({
    name: topic.name,
    partitions: await Promise.all(topic.partitions.map(async (data): Promise<ProducePartitionResult> => {
      const result = (errorCode: number, errorMessage: string | null = null, baseOffset = -1): ProducePartitionResult => ({
        index: data.index,
        errorCode,
        baseOffset,
        logStartOffset: log?.logStartOffset ?? -1,
        errorMessage,
      });
      const log = state.store.partition(topic.name, data.index);
      if (!ackable) return result(ErrorCode.INVALID_REQUIRED_ACKS);
      if (log === undefined) return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      if (request.transactionalId !== null) return result(ErrorCode.INVALID_REQUEST, 'transactions are not supported by this broker');
      if (data.records === null) return result(ErrorCode.CORRUPT_MESSAGE, 'no records');
      const batches = checkRecordSet(data.records);
      if (isProblem(batches)) return result(ErrorCode.CORRUPT_MESSAGE, `batch at byte ${batches.position}: ${batches.reason}`);
      if (batches.some((b) => isTransactional(b.attributes))) return result(ErrorCode.INVALID_REQUEST, 'transactional and control batches are not supported by this broker');
      try {
        return result(ErrorCode.NONE, null, await log.append(data.records, batches));
      } catch (error) {
        state.settings.onLog({ event: 'error', message: `append to ${topic.name}-${data.index} failed: ${(error as Error).message}` });
        return result(ErrorCode.KAFKA_STORAGE_ERROR, 'the append failed');
      }
    })),
  })));
  if (request.acks === 0) {
    const failed = topics.some((t) => t.partitions.some((p) => p.errorCode !== ErrorCode.NONE));
    return failed ? { close: 'a produce with acks=0 failed' } : 'none';
  }
  encodeProduceResponse(writer, header.apiVersion, { topics });
  return 'respond' as const;
};
