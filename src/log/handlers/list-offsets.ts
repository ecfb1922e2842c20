/**
 * ListOffsets: the latest offset (the high watermark: what consumers can
 * read up to), the earliest (the log start), or the first offset at or
 * after a timestamp, resolved per batch (see docs/log.md).
 */
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { decodeListOffsetsRequest, EARLIEST_TIMESTAMP, encodeListOffsetsResponse, LATEST_TIMESTAMP, type ListOffsetsPartitionResult } from '../protocol/list-offsets.js';

export const handleListOffsets: Handler = async (state, { header, reader }, writer) => {
  const request = decodeListOffsetsRequest(reader, header.apiVersion);
  const topics = await Promise.all(request.topics.map(async (topic) => ({
    name: topic.name,
    partitions: await Promise.all(topic.partitions.map(async ({ index, timestamp }): Promise<ListOffsetsPartitionResult> => {
      const log = state.store.partition(topic.name, index);
      if (log === undefined) return { index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 };
      if (timestamp === LATEST_TIMESTAMP) return { index, errorCode: ErrorCode.NONE, timestamp: -1, offset: log.highWatermark };
      if (timestamp === EARLIEST_TIMESTAMP) return { index, errorCode: ErrorCode.NONE, timestamp: -1, offset: log.logStartOffset };
      const found = await log.offsetForTimestamp(timestamp);
      return { index, errorCode: ErrorCode.NONE, timestamp: found?.timestamp ?? -1, offset: found?.offset ?? -1 };
    })),
  })));
  encodeListOffsetsResponse(writer, header.apiVersion, topics);
  return 'respond' as const;
};
