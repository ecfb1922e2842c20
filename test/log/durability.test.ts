/**
 * SIGKILL during produce (acks=-1, --fsync always), in a loop: after every
 * restart each acknowledged record is there byte for byte, nothing foreign
 * or torn is served, and appends continue at the recovered end. Bounded:
 * ROUNDS kills, each after at most KILL_AFTER_MAX_MS of load.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, describe, it } from 'node:test';

import { ApiKey } from '../../src/log/protocol/api-keys.js';
import { checkRecordSet, isProblem } from '../../src/log/protocol/record-batch.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { killLeftoverBrokers, startChildBroker } from './helpers/child-broker.js';
import { buildBatch, readBatchValues, splitBatches } from './helpers/record-batches.js';
import { fetchBody, produceBody, readFetchV11, readProduceV8, WireClient } from './helpers/wire-client.js';

const ROUNDS = 6;
const PRODUCERS = 4;
const RECORDS_PER_REQUEST = 5;
const KILL_AFTER_MIN_MS = 150;
const KILL_AFTER_MAX_MS = 600;

function recordValue(id: string): Buffer {
  const digest = crypto.createHash('sha256').update(id).digest('hex');
  return Buffer.from(`${id}|${digest}|${'.'.repeat(id.length * 37 % 900)}`);
}

function parseValue(value: Buffer): string {
  const [id, digest] = value.toString().split('|');
  assert.equal(crypto.createHash('sha256').update(id!).digest('hex'), digest, `a record that was never produced: ${value.toString().slice(0, 80)}`);
  return id!;
}

/** Every record of the partition, via Fetch: ids in offset order, and the batches checked. */
async function readEverything(port: number, topic: string): Promise<string[]> {
  const client = await WireClient.connect(port);
  try {
    const ids: string[] = [];
    let offset = 0;
    for (;;) {
      const response = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody(topic, 0, offset, { partitionMaxBytes: 4 << 20 })));
      assert.equal(response.errorCode, 0);
      const batches = splitBatches(response.records);
      if (batches.length === 0) {
        assert.equal(offset, response.highWatermark, 'read up to the high watermark');
        return ids;
      }
      const checked = checkRecordSet(Buffer.concat(batches));
      assert.ok(!isProblem(checked), `a served batch failed its checks: ${isProblem(checked) ? checked.reason : ''}`);
      for (const batch of batches) {
        assert.equal(Number(batch.readBigInt64BE(0)), offset, 'offsets are contiguous');
        const values = readBatchValues(batch);
        for (const value of values) ids.push(parseValue(value!));
        offset += values.length;
      }
    }
  } finally {
    client.close();
  }
}

describe('SIGKILL during produce with acks=-1 and --fsync always', () => {
  const tmp = makeTempDir('zerocopy-log-kill-');
  after(() => {
    killLeftoverBrokers();
    tmp.remove();
  });

  it(`loses no acknowledged record and serves nothing foreign, over ${ROUNDS} kills`, async () => {
    const acked = new Set<string>();
    let recoveredEnd = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const broker = await startChildBroker(tmp.dir, ['--fsync', 'always', '--segment-bytes', '65536']);
      const setup = await WireClient.connect(broker.port);
      await setup.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('durable').bool(true));
      // The first append after a restart lands at the recovered end.
      const latest = await setup.request(ApiKey.ListOffsets, 2, (w) => w.int32(-1).int8(0).int32(1).string('durable').int32(1).int32(0).int64(-1));
      latest.int32();
      latest.int32();
      latest.string();
      latest.int32();
      latest.int32();
      assert.equal(latest.int16(), 0);
      latest.int64();
      const end = latest.int64();
      assert.ok(end >= recoveredEnd, 'the log never shrinks below what was recovered before');
      const firstId = `r${round}-first`;
      const first = readProduceV8(await setup.request(ApiKey.Produce, 8, produceBody('durable', 0, buildBatch([{ value: recordValue(firstId) }]))));
      assert.deepEqual([first.errorCode, first.baseOffset], [0, end]);
      acked.add(firstId);
      setup.close();

      const producers = await Promise.all(Array.from({ length: PRODUCERS }, () => WireClient.connect(broker.port)));
      const loops = producers.map(async (client, p) => {
        for (let seq = 0; client.isOpen; seq++) {
          const ids = Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => `r${round}-p${p}-s${seq}-${i}`);
          try {
            const response = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('durable', 0, buildBatch(ids.map((id) => ({ value: recordValue(id) }))))));
            if (response.errorCode === 0) ids.forEach((id) => acked.add(id));
          } catch {
            return; // the broker died mid-request: not acknowledged
          }
        }
      });
      await new Promise((resolve) => setTimeout(resolve, KILL_AFTER_MIN_MS + Math.random() * (KILL_AFTER_MAX_MS - KILL_AFTER_MIN_MS)));
      await broker.kill('SIGKILL');
      await Promise.all(loops);
      producers.forEach((c) => c.close());

      const restarted = await startChildBroker(tmp.dir, ['--fsync', 'always', '--segment-bytes', '65536']);
      try {
        const ids = await readEverything(restarted.port, 'durable');
        assert.equal(new Set(ids).size, ids.length, 'no record appears twice');
        const missing = [...acked].filter((id) => !ids.includes(id));
        assert.deepEqual(missing, [], `round ${round}: acknowledged records lost`);
        recoveredEnd = ids.length;
      } finally {
        await restarted.kill('SIGTERM');
      }
    }
    assert.ok(acked.size > ROUNDS * 20, `enough load to mean something: ${acked.size} records acknowledged`);
  });
});
