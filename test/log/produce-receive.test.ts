/**
 * Large produce requests spliced from the socket into the segment
 * (produceReceiveBytes): the same log as the buffered path, checked the
 * same way, and nothing half-received ever becomes part of the log.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/index.js';
import { ApiKey } from '../../src/log/protocol/api-keys.js';
import { checkRecordSet, isProblem } from '../../src/log/protocol/record-batch.js';
import { sha256 } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { buildBatch, readBatchValues, splitBatches } from './helpers/record-batches.js';
import { fetchBody, produceBody, readFetchV11, readProduceV8, WireClient } from './helpers/wire-client.js';

const KIB = 1024;
const THRESHOLD = 64 * KIB;

function value(i: number, size: number): Buffer {
  const v = Buffer.alloc(size);
  for (let at = 0; at + 4 <= size; at += 4) v.writeUInt32BE((i * 2654435761 + at) >>> 0, at);
  return v;
}

async function fetchAll(client: WireClient, topic: string): Promise<Buffer> {
  return readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody(topic, 0, 0, { partitionMaxBytes: 64 << 20 }))).records;
}

function storedBytes(dir: string, topic: string): Buffer {
  const partitionDir = path.join(dir, `${topic}-0`);
  return Buffer.concat(fs.readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort().map((f) => fs.readFileSync(path.join(partitionDir, f))));
}

describe('produce requests received with splice', () => {
  let t: TestBroker;
  let client: WireClient;
  before(async () => {
    t = await startBroker({ produceReceiveBytes: THRESHOLD, segmentBytes: 4 << 20 });
    client = await WireClient.connect(t.port);
    for (const topic of ['big', 'corrupt', 'dying', 'mixed', 'fresh']) await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string(topic).bool(true));
  });
  after(async () => {
    client.close();
    await t.dispose();
  });

  it('splices large record sets into the segment and serves them byte for byte', async () => {
    const seen: TransferEndMessage[] = [];
    const listener = (m: unknown) => seen.push(m as TransferEndMessage);
    diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
    const values = Array.from({ length: 12 }, (_, i) => value(i, 300 * KIB + i));
    try {
      for (let i = 0; i < values.length; i += 2) {
        const records = Buffer.concat([buildBatch([{ value: values[i]! }]), buildBatch([{ value: values[i + 1]! }])]);
        const response = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('big', 0, records)));
        assert.deepEqual([response.errorCode, response.baseOffset], [0, i]);
      }
    } finally {
      diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
    }
    const spliced = seen.filter((m) => m.method === 'splice');
    assert.equal(spliced.length, 6, 'one splice per request');
    // What Node had already read when the request was recognised is written
    // first; everything after it moves by splice.
    const total = values.reduce((n, v) => n + v.length, 0);
    const movedBySplice = spliced.reduce((n, m) => n + m.bytes, 0);
    assert.ok(movedBySplice > total / 2, `splice moved ${movedBySplice} of ${total} record bytes`);
    const fetched = await fetchAll(client, 'big');
    assert.ok(fetched.equals(storedBytes(t.dir, 'big')));
    const batches = splitBatches(fetched);
    assert.ok(!isProblem(checkRecordSet(fetched)));
    assert.deepEqual(batches.map((b) => Number(b.readBigInt64BE(0))), values.map((_, i) => i));
    assert.deepEqual(batches.map((b) => sha256(readBatchValues(b)[0]!)), values.map(sha256));
  });

  it('answers CORRUPT_MESSAGE for a corrupt batch and leaves nothing of it in the log', async () => {
    const good = buildBatch([{ value: value(1, 100 * KIB) }]);
    assert.equal(readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('corrupt', 0, good))).errorCode, 0);
    const bad = buildBatch([{ value: value(2, 200 * KIB) }], { badCrc: true });
    const response = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('corrupt', 0, Buffer.concat([buildBatch([{ value: value(3, 100) }]), bad]))));
    assert.equal(response.errorCode, 2);
    assert.match(response.errorMessage!, /CRC/);
    const log = t.broker.store.partition('corrupt', 0)!;
    assert.equal(log.logEndOffset, 1);
    assert.equal(readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('corrupt', 0, buildBatch([{ value: value(4, 90 * KIB) }])))).baseOffset, 1);
    const fetched = await fetchAll(client, 'corrupt');
    assert.ok(fetched.equals(storedBytes(t.dir, 'corrupt')), 'the segment files hold exactly the two good batches');
    assert.deepEqual(splitBatches(fetched).map((b) => Number(b.readBigInt64BE(0))), [0, 1]);
  });

  it('starts over in the same empty segment when the very first request of a partition is refused', async () => {
    const bad = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('fresh', 0, buildBatch([{ value: value(11, 100 * KIB) }], { badCrc: true }))));
    assert.equal(bad.errorCode, 2);
    const log = t.broker.store.partition('fresh', 0)!;
    assert.equal(log.segmentCount, 1, 'no second segment with the same base offset');
    const good = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('fresh', 0, buildBatch([{ value: value(12, 100 * KIB) }]))));
    assert.deepEqual([good.errorCode, good.baseOffset], [0, 0]);
    const fetched = await fetchAll(client, 'fresh');
    assert.ok(fetched.equals(storedBytes(t.dir, 'fresh')));
    assert.equal(splitBatches(fetched).length, 1);
  });

  it('cuts a request whose producer disappears mid-records, and the partition carries on', async () => {
    const log = t.broker.store.partition('dying', 0)!;
    assert.equal(readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('dying', 0, buildBatch([{ value: value(5, 80 * KIB) }])))).errorCode, 0);
    const dying = await WireClient.connect(t.port);
    const frame = WireClient.frame(ApiKey.Produce, 8, 1, produceBody('dying', 0, buildBatch([{ value: value(6, 500 * KIB) }])));
    dying.writeRaw(frame.subarray(0, 300 * KIB));
    await new Promise((resolve) => setTimeout(resolve, 100));
    dying.close();
    await withTimeout((async () => {
      for (;;) {
        const response = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('dying', 0, buildBatch([{ value: value(7, 70 * KIB) }]))));
        if (response.errorCode === 0) return response.baseOffset;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(), 10000, 'a produce after the dead one');
    assert.equal(log.logEndOffset, 2);
    const fetched = await fetchAll(client, 'dying');
    assert.ok(fetched.equals(storedBytes(t.dir, 'dying')), 'no half-received bytes are left in any segment');
    assert.ok(!isProblem(checkRecordSet(fetched)));
  });

  it('handles a large request with two partitions the ordinary way, and a request pipelined behind a spliced one', async () => {
    const records = [buildBatch([{ value: value(8, 100 * KIB) }]), buildBatch([{ value: value(9, 100 * KIB) }])];
    await client.request(ApiKey.CreateTopics, 3, (w) => w.int32(1).string('pair').int32(2).int16(1).int32(0).int32(0).int32(5000).bool(false));
    const two = await client.request(ApiKey.Produce, 8, (w) => {
      w.nullableString(null).int16(-1).int32(5000).int32(1).string('pair').int32(2);
      w.int32(0).nullableBytes(records[0]!).int32(1).nullableBytes(records[1]!);
    });
    two.int32();
    two.string();
    assert.equal(two.int32(), 2);
    assert.deepEqual([two.int32(), two.int16()], [0, 0]);

    // One write: a spliced produce, then a Metadata request right behind it.
    const pipelined = await WireClient.connect(t.port);
    try {
      const answers: number[] = [];
      const produce = pipelined.request(ApiKey.Produce, 8, produceBody('mixed', 0, buildBatch([{ value: value(10, 200 * KIB) }]))).then((r) => {
        answers.push(1);
        return readProduceV8(r);
      });
      const metadata = pipelined.request(ApiKey.Metadata, 1, (w) => w.int32(-1)).then((r) => {
        answers.push(2);
        return r.int32();
      });
      assert.equal((await produce).errorCode, 0);
      assert.equal(await metadata, 1);
      assert.deepEqual(answers, [1, 2], 'responses in request order');
    } finally {
      pipelined.close();
    }
  });
});
