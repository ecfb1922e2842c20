/**
 * A raw Kafka protocol client for tests: builds request frames with the
 * broker's own writer, reads response frames by correlation id, and can send
 * arbitrary bytes (bad input).
 */
import { once } from 'node:events';
import net from 'node:net';

import { ProtocolReader } from '../../../src/log/protocol/reader.js';
import { ProtocolWriter } from '../../../src/log/protocol/writer.js';

export class WireClient {
  private buffered = Buffer.alloc(0);
  private correlation = 0;
  private readonly waiting = new Map<number, (body: Buffer) => void>();
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0);
        if (this.buffered.length < 4 + size) break;
        const frame = this.buffered.subarray(4, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        const correlationId = frame.readInt32BE(0);
        this.waiting.get(correlationId)?.(frame.subarray(4));
        this.waiting.delete(correlationId);
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      resolve();
    }));
  }

  static async connect(port: number): Promise<WireClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new WireClient(socket);
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** The bytes of a request frame (size included). */
  static frame(apiKey: number, version: number, correlationId: number, body: (w: ProtocolWriter) => void, clientId: string | null = 'wire-test'): Buffer {
    const writer = new ProtocolWriter();
    writer.int32(0).int16(apiKey).int16(version).int32(correlationId).nullableString(clientId);
    body(writer);
    writer.setInt32(0, writer.length - 4);
    return Buffer.from(writer.finish());
  }

  /** Sends a request and resolves with a reader over the response body (after the correlation id). */
  request(apiKey: number, version: number, body: (w: ProtocolWriter) => void = () => {}, timeoutMs = 10000): Promise<ProtocolReader> {
    const correlationId = ++this.correlation;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to api ${apiKey} v${version} in ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(correlationId, (frame) => {
        clearTimeout(timer);
        resolve(new ProtocolReader(frame));
      });
      void this.closed.then(() => {
        clearTimeout(timer);
        reject(new Error('connection closed before the response'));
      });
      this.socket.write(WireClient.frame(apiKey, version, correlationId, body));
    });
  }

  /** Sends a request without waiting for anything (acks=0). */
  send(apiKey: number, version: number, body: (w: ProtocolWriter) => void): void {
    this.socket.write(WireClient.frame(apiKey, version, ++this.correlation, body));
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A Produce v7 body for one partition. */
export function produceBody(topic: string, partition: number, records: Buffer | null, acks = -1): (w: ProtocolWriter) => void {
  return (w) => {
    w.nullableString(null).int16(acks).int32(30000);
    w.int32(1).string(topic).int32(1).int32(partition).nullableBytes(records);
  };
}

export interface ProduceResult {
  errorCode: number;
  baseOffset: number;
  errorMessage: string | null;
}

/** Reads a Produce v8 response for one partition. */
export function readProduceV8(reader: ProtocolReader): ProduceResult {
  reader.int32(); // topics
  reader.string();
  reader.int32(); // partitions
  reader.int32(); // index
  const errorCode = reader.int16();
  const baseOffset = reader.int64();
  reader.int64();
  reader.int64();
  reader.array((r) => [r.int32(), r.nullableString()]);
  const errorMessage = reader.nullableString();
  return { errorCode, baseOffset, errorMessage };
}

/** A Fetch v11 body for one partition. */
export function fetchBody(topic: string, partition: number, offset: number, options: { maxWaitMs?: number; minBytes?: number; maxBytes?: number; partitionMaxBytes?: number } = {}): (w: ProtocolWriter) => void {
  return (w) => {
    w.int32(-1).int32(options.maxWaitMs ?? 0).int32(options.minBytes ?? 0).int32(options.maxBytes ?? 0x7fffffff).int8(0);
    w.int32(0).int32(-1); // session id, epoch
    w.int32(1).string(topic).int32(1).int32(partition).int32(-1).int64(offset).int64(-1).int32(options.partitionMaxBytes ?? 1 << 20);
    w.int32(0); // forgotten
    w.string(''); // rack
  };
}

export interface FetchResult {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer;
}

/** Reads a Fetch v11 response for one partition. */
export function readFetchV11(reader: ProtocolReader): FetchResult & { topLevelError: number } {
  reader.int32(); // throttle
  const topLevelError = reader.int16();
  reader.int32(); // session
  const topics = reader.int32();
  if (topics === 0) return { topLevelError, errorCode: -1, highWatermark: -1, logStartOffset: -1, records: Buffer.alloc(0) };
  reader.string();
  reader.int32(); // partitions
  reader.int32(); // index
  const errorCode = reader.int16();
  const highWatermark = reader.int64();
  reader.int64(); // last stable
  const logStartOffset = reader.int64();
  reader.array((r) => [r.int64(), r.int64()]);
  reader.int32(); // preferred read replica
  const records = reader.nullableBytes() ?? Buffer.alloc(0);
  return { topLevelError, errorCode, highWatermark, logStartOffset, records };
}
