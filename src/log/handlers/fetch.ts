/**
 * Fetch: for each partition, the segment regions from the fetch offset on,
 * sent after a header built in memory (fetch.ts in protocol/ lays out the
 * chain). Record bytes never enter JavaScript: the broker reads batch
 * headers to find where a fetch starts, and sendfile(2) moves the rest.
 *
 * Long polling: with fewer than min_bytes available, the request waits
 * (without blocking anything: a listener per partition and a timer) until
 * enough arrives or max_wait_ms passes, then answers with what there is.
 * Limits follow KIP-74: the response's max_bytes and each partition's are
 * honoured, except that the first batch of the first partition with data is
 * always sent whole, so a batch larger than the limits cannot stall a
 * consumer.
 */
import type net from 'node:net';

import type { BrokerState, Handler } from '../context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { decodeFetchRequest, encodeFetchResponse, type FetchPartitionResult, type FetchRequest } from '../protocol/fetch.js';
import type { LogRead } from '../storage/partition-log.js';

/** Longest wait honoured, whatever the client asks: a stuck request holds its connection. */
const MAX_WAIT_CAP_MS = 30_000;

interface Gathered {
  topics: { name: string; partitions: FetchPartitionResult[] }[];
  bytes: number;
  reads: LogRead[];
  hasError: boolean;
}

async function gather(state: BrokerState, request: FetchRequest): Promise<Gathered> {
  const reads: LogRead[] = [];
  let budget = request.maxBytes;
  let bytes = 0;
  let hasError = false;
  let seenData = false;
  const topics = [];
  try {
    for (const topic of request.topics) {
      const partitions: FetchPartitionResult[] = [];
      for (const p of topic.partitions) {
        const log = state.store.partition(topic.name, p.partition);
        const result: FetchPartitionResult = {
          partition: p.partition,
          errorCode: ErrorCode.NONE,
          highWatermark: log?.highWatermark ?? -1,
          logStartOffset: log?.logStartOffset ?? -1,
          records: [],
        };
        partitions.push(result);
        if (log === undefined) {
          result.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          hasError = true;
          continue;
        }
        const limit = Math.max(0, Math.min(p.maxBytes, budget));
        const read = await log.read(p.fetchOffset, limit, !seenData);
        if (read === 'out-of-range') {
          result.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
          hasError = true;
          continue;
        }
        reads.push(read);
        result.records = read.regions;
        // The high watermark as of this read: never below the data sent.
        result.highWatermark = log.highWatermark;
        bytes += read.bytes;
        budget -= read.bytes;
        if (read.bytes > 0) seenData = true;
      }
      topics.push({ name: topic.name, partitions });
    }
  } catch (error) {
    for (const read of reads) read.release();
    throw error;
  }
  return { topics, bytes, reads, hasError };
}

/**
 * Watches the request's partitions (and its connection) for a long poll.
 * Subscribed before the data is gathered, so an append that lands while a
 * response is being built is never missed.
 */
class Watcher {
  changed = false;
  private wake: (() => void) | undefined;
  private readonly unsubscribes: (() => void)[] = [];
  private readonly onEvent = () => {
    this.changed = true;
    this.wake?.();
  };

  constructor(state: BrokerState, request: FetchRequest, private readonly socket: net.Socket) {
    for (const topic of request.topics) {
      for (const p of topic.partitions) {
        const log = state.store.partition(topic.name, p.partition);
        if (log) this.unsubscribes.push(log.onAdvance(this.onEvent));
      }
    }
    socket.on('close', this.onEvent);
  }

  /** Resolves at the next change (or at once if one happened since `changed` was cleared), or after `ms`. */
  wait(ms: number): Promise<void> {
    if (this.changed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  dispose(): void {
    this.wake?.();
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.socket.off('close', this.onEvent);
  }
}

export const handleFetch: Handler = async (state, { header, reader, socket }) => {
  const version = header.apiVersion;
  const request = decodeFetchRequest(reader, version);
  if (request.sessionId !== 0) {
    // Incremental fetch sessions (KIP-227) are not kept: a client that asks
    // for one is told so, and falls back to full fetches.
    const { parts, bytes } = encodeFetchResponse(version, { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, topics: [] });
    return { chain: parts, bytes, release: () => {} };
  }
  const deadline = Date.now() + Math.min(Math.max(request.maxWaitMs, 0), MAX_WAIT_CAP_MS);
  const watcher = new Watcher(state, request, socket);
  try {
    for (;;) {
      watcher.changed = false;
      const gathered = await gather(state, request);
      const left = deadline - Date.now();
      if (gathered.bytes >= request.minBytes || gathered.hasError || left <= 0 || socket.destroyed) {
        const { parts, bytes } = encodeFetchResponse(version, { errorCode: ErrorCode.NONE, sessionId: 0, topics: gathered.topics });
        return { chain: parts, bytes, release: () => gathered.reads.forEach((read) => read.release()) };
      }
      for (const read of gathered.reads) read.release();
      await watcher.wait(left);
    }
  } finally {
    watcher.dispose();
  }
};
