/**
 * Fetch on the wire: the records a consumer receives are the segment's bytes,
 * sent by sendfile (and the same bytes when the fast path is forced off);
 * long polling; limits (KIP-74); a slow consumer does not stall the others.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/index.js';
import { ApiKey } from '../../src/log/protocol/api-keys.js';
import { withTimeout } from '../helpers/process.js';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { buildBatch, readBatchValues, splitBatches } from './helpers/record-batches.js';
import { fetchBody, produceBody, readFetchV11, readProduceV8, WireClient } from './helpers/wire-client.js';

const KIB = 1024;

async function produceValues(client: WireClient, topic: string, values: Buffer[]): Promise<number> {
  const response = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody(topic, 0, buildBatch(values.map((value) => ({ value }))))));
  assert.equal(response.errorCode, 0, response.errorMessage ?? '');
  return response.baseOffset;
}

/** Every segment file of a partition, concatenated: what a fetch from 0 must return. */
function segmentBytes(dir: string, topic: string): Buffer {
  const partitionDir = path.join(dir, `${topic}-0`);
  const files = fs.readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort();
  return Buffer.concat(files.map((f) => fs.readFileSync(path.join(partitionDir, f))));
}

for (const fetchMethod of ['auto', 'copy'] as const) {
  describe(`fetch (fetchMethod '${fetchMethod}')`, () => {
    let t: TestBroker;
    let client: WireClient;
    before(async () => {
      t = await startBroker({ segmentBytes: 64 * KIB, fetchMethod });
      client = await WireClient.connect(t.port);
      await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('wire').bool(true));
      for (let i = 0; i < 40; i++) await produceValues(client, 'wire', [Buffer.alloc(5 * KIB + i, i), Buffer.alloc(100, 255 - i)]);
    });
    after(async () => {
      client.close();
      await t.dispose();
    });

    it(`returns the segments' bytes exactly, across segment boundaries, ${fetchMethod === 'auto' ? 'by sendfile' : 'copied through user space'}`, async () => {
      assert.ok(t.broker.store.partition('wire', 0)!.segmentCount > 3);
      const seen: TransferEndMessage[] = [];
      const listener = (m: unknown) => seen.push(m as TransferEndMessage);
      diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
      let received: Buffer;
      try {
        received = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('wire', 0, 0, { partitionMaxBytes: 10 << 20 }))).records;
      } finally {
        diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
      }
      const stored = segmentBytes(t.dir, 'wire');
      assert.ok(received.equals(stored), 'the fetched records are the stored bytes');
      const method = fetchMethod === 'auto' ? 'sendfile' : 'copy';
      const moved = seen.filter((m) => m.method === method).reduce((n, m) => n + m.bytes, 0);
      assert.equal(moved, stored.length, `every record byte left by ${method}`);
      assert.equal(seen.filter((m) => m.method !== method).length, 0);
      const offsets = splitBatches(received).map((b) => Number(b.readBigInt64BE(0)));
      assert.deepEqual(offsets, Array.from({ length: 40 }, (_, i) => i * 2));
    });

    it('starts at the batch holding the fetch offset', async () => {
      const response = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('wire', 0, 33, { partitionMaxBytes: 1 << 20 })));
      const first = splitBatches(response.records)[0]!;
      assert.equal(Number(first.readBigInt64BE(0)), 32);
      assert.equal(readBatchValues(first)[1]!.length, 100);
    });

    it('sends the whole first batch when it is larger than the limits (KIP-74), and a partial one after it', async () => {
      const response = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('wire', 0, 0, { maxBytes: 1000, partitionMaxBytes: 1000 })));
      const batches = splitBatches(response.records);
      assert.equal(batches.length, 1);
      assert.equal(response.records.length, batches[0]!.length, 'exactly one whole batch');
      const wider = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('wire', 0, 0, { partitionMaxBytes: 8 * KIB })));
      assert.equal(wider.records.length, 8 * KIB, 'the limit cuts inside the second batch, as Kafka does');
    });
  });
}

describe('long polling', () => {
  let t: TestBroker;
  before(async () => {
    t = await startBroker();
  });
  after(() => t.dispose());

  it('holds a fetch until min_bytes arrive, then answers at once', async () => {
    const producer = await WireClient.connect(t.port);
    const consumer = await WireClient.connect(t.port);
    try {
      await producer.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('poll').bool(true));
      const started = Date.now();
      const pending = consumer.request(ApiKey.Fetch, 11, fetchBody('poll', 0, 0, { maxWaitMs: 20000, minBytes: 1 }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await produceValues(producer, 'poll', [Buffer.from('wake up')]);
      const response = readFetchV11(await withTimeout(pending, 5000, 'the long poll to answer'));
      assert.equal(readBatchValues(splitBatches(response.records)[0]!)[0]!.toString(), 'wake up');
      assert.ok(Date.now() - started < 10000, 'answered when the data came, not at max_wait_ms');
    } finally {
      producer.close();
      consumer.close();
    }
  });

  it('answers with what there is when max_wait_ms passes, and keeps serving others meanwhile', async () => {
    const waiting = await WireClient.connect(t.port);
    const other = await WireClient.connect(t.port);
    try {
      await other.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('quiet').bool(true));
      const started = Date.now();
      const pending = waiting.request(ApiKey.Fetch, 11, fetchBody('quiet', 0, 0, { maxWaitMs: 600, minBytes: 1 }));
      for (let i = 0; i < 5; i++) await other.request(ApiKey.Metadata, 1, (w) => w.int32(-1));
      const response = readFetchV11(await pending);
      assert.deepEqual([response.errorCode, response.records.length], [0, 0]);
      assert.ok(Date.now() - started >= 550, 'it waited for max_wait_ms');
    } finally {
      waiting.close();
      other.close();
    }
  });

  it('answers at once when min_bytes is already there', async () => {
    const client = await WireClient.connect(t.port);
    try {
      await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('ready').bool(true));
      await produceValues(client, 'ready', [Buffer.alloc(2000, 1)]);
      const started = Date.now();
      const response = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('ready', 0, 0, { maxWaitMs: 20000, minBytes: 1000 })));
      assert.ok(response.records.length >= 1000);
      assert.ok(Date.now() - started < 5000);
    } finally {
      client.close();
    }
  });
});

describe('consumers at once', () => {
  it('keeps serving 8 readers promptly while one reader stops reading its socket', async () => {
    const t = await startBroker();
    const clients: WireClient[] = [];
    try {
      const producer = await WireClient.connect(t.port);
      clients.push(producer);
      await producer.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('shared').bool(true));
      for (let i = 0; i < 16; i++) await produceValues(producer, 'shared', [Buffer.alloc(512 * KIB, i)]);
      const stored = segmentBytes(t.dir, 'shared');

      const stalled = await WireClient.connect(t.port);
      clients.push(stalled);
      stalled.socket.pause(); // never reads: its fetch fills the socket buffers and waits
      stalled.writeRaw(WireClient.frame(ApiKey.Fetch, 11, 99, fetchBody('shared', 0, 0, { partitionMaxBytes: 64 << 20 })));

      const readers = await Promise.all(Array.from({ length: 8 }, () => WireClient.connect(t.port)));
      clients.push(...readers);
      const results = await withTimeout(Promise.all(readers.map(async (reader) => {
        const response = readFetchV11(await reader.request(ApiKey.Fetch, 11, fetchBody('shared', 0, 0, { partitionMaxBytes: 64 << 20 })));
        return response.records;
      })), 20000, '8 readers while one is stalled');
      for (const records of results) assert.ok(records.equals(stored));
    } finally {
      clients.forEach((c) => c.close());
      await t.dispose();
    }
  });
});
