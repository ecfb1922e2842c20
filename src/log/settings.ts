/**
 * The broker's options, checked and defaulted in one place (before anything
 * is opened), with the reason for each default.
 */
import { createError } from '../errors.js';
import { MAX_SEGMENT_BYTES, type FsyncMode } from './storage/partition-log.js';

const MIB = 1 << 20;

export interface LogBrokerOptions {
  /** The log directory (created if missing). */
  dir: string;
  /** Address to listen on (default '127.0.0.1'). */
  host?: string;
  /** Port to listen on (default 9092; 0 for any free port). */
  port?: number;
  /**
   * Host and port Metadata tells clients to connect to. Default: the
   * address each client reached the broker on (its socket's local address),
   * which is right for every client on this machine or network.
   */
  advertisedHost?: string;
  advertisedPort?: number;
  /** A segment is rolled before it would grow past this (default 1 GiB, Kafka's segment.bytes). */
  segmentBytes?: number;
  /**
   * When produced data is flushed to disk (default 'always'):
   * - 'always': fdatasync before a produce is acknowledged (group commit);
   *   consumers see only synced data. Nothing acknowledged is lost even on
   *   power loss.
   * - 'interval': fdatasync every `fsyncIntervalMs`; a power loss or kernel
   *   crash loses up to that much acknowledged data (a process crash loses
   *   nothing: the page cache survives it).
   * - 'never': the kernel writes back when it likes (Kafka's default, which
   *   relies on replication this broker does not have).
   */
  fsync?: FsyncMode;
  /** Period of the 'interval' fsync (default 1000 ms). */
  fsyncIntervalMs?: number;
  /** Partitions of a topic created on first use (default 1, Kafka's num.partitions). */
  partitions?: number;
  /** Create unknown topics when Metadata asks for them (default true, Kafka's auto.create.topics.enable). */
  autoCreateTopics?: boolean;
  /** Delete old segments while a partition is larger than this by a whole segment (default: no limit). */
  retentionBytes?: number;
  /** Delete segments last written longer ago than this (default: no limit; Kafka: 7 days). */
  retentionMs?: number;
  /** How often retention runs (default 5 min, Kafka's log.retention.check.interval.ms). */
  retentionCheckIntervalMs?: number;
  /** Largest request frame accepted; larger ones close the connection (default 100 MiB, Kafka's socket.request.max.bytes). */
  maxRequestBytes?: number;
  /** Close connections idle this long (default 10 min, Kafka's connections.max.idle.ms; 0: never). */
  idleTimeoutMs?: number;
  /** This broker's node id in Metadata (default 1). */
  nodeId?: number;
  /** group.min.session.timeout.ms (default 6000, as Kafka). */
  groupMinSessionTimeoutMs?: number;
  /** group.max.session.timeout.ms (default 1800000, as Kafka). */
  groupMaxSessionTimeoutMs?: number;
  /** group.initial.rebalance.delay.ms (default 0: a single node has no fleet to wait for; Kafka: 3000). */
  groupInitialRebalanceDelayMs?: number;
  /** 'copy' sends fetch data through user space (read, then write): for comparison and benchmarks. */
  fetchMethod?: 'auto' | 'copy';
  /**
   * Produce requests at least this large have their record bytes spliced
   * from the socket into the segment (receiveToFile) instead of buffered
   * (default: see PRODUCE_RECEIVE_DEFAULT_BYTES in produce-receive.ts);
   * Infinity: always buffer.
   */
  produceReceiveBytes?: number;
  /** Called with one line per notable event (connection closed for bad input, recovery done, ...). */
  onLog?: (event: LogBrokerEvent) => void;
}

export type LogBrokerEvent =
  | { event: 'listening'; host: string; port: number }
  | { event: 'recovered'; topic: string; partition: number; baseOffset: number; truncatedBytes: number; indexRebuilt: boolean; problem: string | undefined }
  | { event: 'connection-closed'; remote: string; reason: string }
  | { event: 'error'; message: string };

export interface BrokerSettings {
  dir: string;
  host: string;
  port: number;
  advertisedHost: string | undefined;
  advertisedPort: number | undefined;
  segmentBytes: number;
  fsync: FsyncMode;
  fsyncIntervalMs: number;
  partitions: number;
  autoCreateTopics: boolean;
  retentionBytes: number | undefined;
  retentionMs: number | undefined;
  retentionCheckIntervalMs: number;
  maxRequestBytes: number;
  idleTimeoutMs: number;
  nodeId: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  groupInitialRebalanceDelayMs: number;
  fetchMethod: 'auto' | 'copy';
  produceReceiveBytes: number;
  onLog: (event: LogBrokerEvent) => void;
}

export const DEFAULT_PORT = 9092;
export const DEFAULT_SEGMENT_BYTES = 1 << 30;
export const DEFAULT_MAX_REQUEST_BYTES = 100 * MIB;
const DEFAULT_FSYNC_INTERVAL_MS = 1000;
const DEFAULT_RETENTION_CHECK_INTERVAL_MS = 5 * 60 * 1000;
const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_NODE_ID = 1;
const KAFKA_MIN_SESSION_TIMEOUT_MS = 6000;
const KAFKA_MAX_SESSION_TIMEOUT_MS = 1_800_000;
/** Below this, a request cannot hold a batch header; above, the INT32 size field overflows. */
const MIN_REQUEST_BYTES = 1024;
const MAX_REQUEST_BYTES = 0x7fffffff;
/** The smallest segment that holds a batch header or two. */
const MIN_SEGMENT_BYTES = 1024;

function integer(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw createError('ZC_ERR_INVALID_ARG', [name, 'an integer', value]);
  if (value < min || value > max) throw createError('ZC_ERR_OUT_OF_RANGE', [name, `>= ${min} and <= ${max}`, value]);
  return value;
}

function optionalInteger(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  return integer(value, name, min, Number.MAX_SAFE_INTEGER, 0);
}

/** Checks `options` and fills in defaults; throws ZC_ERR_INVALID_ARG / ZC_ERR_OUT_OF_RANGE. */
export function resolveSettings(options: LogBrokerOptions, produceReceiveDefault: number): BrokerSettings {
  if (typeof options !== 'object' || options === null) throw createError('ZC_ERR_INVALID_ARG', ['options', 'an object', options]);
  if (typeof options.dir !== 'string' || options.dir === '') throw createError('ZC_ERR_INVALID_ARG', ['options.dir', 'a directory path', options.dir]);
  const fsync = options.fsync ?? 'always';
  if (!['always', 'interval', 'never'].includes(fsync)) throw createError('ZC_ERR_INVALID_ARG', ['options.fsync', "'always', 'interval' or 'never'", fsync]);
  const fetchMethod = options.fetchMethod ?? 'auto';
  if (fetchMethod !== 'auto' && fetchMethod !== 'copy') throw createError('ZC_ERR_INVALID_ARG', ['options.fetchMethod', "'auto' or 'copy'", fetchMethod]);
  const produceReceiveBytes = options.produceReceiveBytes === Infinity ? Infinity
    : integer(options.produceReceiveBytes, 'options.produceReceiveBytes', 0, Number.MAX_SAFE_INTEGER, produceReceiveDefault);
  return {
    dir: options.dir,
    host: options.host ?? '127.0.0.1',
    port: integer(options.port, 'options.port', 0, 65535, DEFAULT_PORT),
    advertisedHost: options.advertisedHost,
    advertisedPort: options.advertisedPort === undefined ? undefined : integer(options.advertisedPort, 'options.advertisedPort', 1, 65535, 0),
    segmentBytes: integer(options.segmentBytes, 'options.segmentBytes', MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES, DEFAULT_SEGMENT_BYTES),
    fsync,
    fsyncIntervalMs: integer(options.fsyncIntervalMs, 'options.fsyncIntervalMs', 1, 2 ** 31 - 1, DEFAULT_FSYNC_INTERVAL_MS),
    partitions: integer(options.partitions, 'options.partitions', 1, 1000, 1),
    autoCreateTopics: options.autoCreateTopics ?? true,
    retentionBytes: optionalInteger(options.retentionBytes, 'options.retentionBytes', 0),
    retentionMs: optionalInteger(options.retentionMs, 'options.retentionMs', 0),
    retentionCheckIntervalMs: integer(options.retentionCheckIntervalMs, 'options.retentionCheckIntervalMs', 1, 2 ** 31 - 1, DEFAULT_RETENTION_CHECK_INTERVAL_MS),
    maxRequestBytes: integer(options.maxRequestBytes, 'options.maxRequestBytes', MIN_REQUEST_BYTES, MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_BYTES),
    idleTimeoutMs: integer(options.idleTimeoutMs, 'options.idleTimeoutMs', 0, 2 ** 31 - 1, DEFAULT_IDLE_TIMEOUT_MS),
    nodeId: integer(options.nodeId, 'options.nodeId', 0, 2 ** 31 - 1, DEFAULT_NODE_ID),
    groupMinSessionTimeoutMs: integer(options.groupMinSessionTimeoutMs, 'options.groupMinSessionTimeoutMs', 1, 2 ** 31 - 1, KAFKA_MIN_SESSION_TIMEOUT_MS),
    groupMaxSessionTimeoutMs: integer(options.groupMaxSessionTimeoutMs, 'options.groupMaxSessionTimeoutMs', 1, 2 ** 31 - 1, KAFKA_MAX_SESSION_TIMEOUT_MS),
    groupInitialRebalanceDelayMs: integer(options.groupInitialRebalanceDelayMs, 'options.groupInitialRebalanceDelayMs', 0, 2 ** 31 - 1, 0),
    fetchMethod,
    produceReceiveBytes,
    onLog: options.onLog ?? (() => {}),
  };
}
