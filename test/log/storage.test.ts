import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { OffsetStore } from '../../src/log/groups/offset-store.js';
import { checkRecordSet, isProblem } from '../../src/log/protocol/record-batch.js';
import { LogStore } from '../../src/log/storage/log-store.js';
import { PartitionLog, type LogRead, type PartitionLogOptions } from '../../src/log/storage/partition-log.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { buildBatch, readBatchValues, splitBatches } from './helpers/record-batches.js';

const tmp = makeTempDir('zerocopy-log-storage-');
after(() => tmp.remove());
let n = 0;
const freshDir = () => path.join(tmp.dir, `p${n++}`);

async function append(log: PartitionLog, values: string[], baseTimestamp?: number): Promise<number> {
  const records = buildBatch(values.map((value) => ({ value })), baseTimestamp === undefined ? {} : { baseTimestamp });
  const batches = checkRecordSet(records);
  assert.ok(!isProblem(batches));
  return log.append(records, batches);
}

/** The bytes a read names, read back from its regions (what sendfile would send). */
function bytesOf(read: LogRead): Buffer {
  return Buffer.concat(read.regions.map((r) => {
    const buffer = Buffer.alloc(r.length);
    fs.readSync(r.fd!, buffer, 0, r.length, r.offset);
    return buffer;
  }));
}

async function readAll(log: PartitionLog, from = 0): Promise<{ offset: number; value: string }[]> {
  const read = await log.read(from, 1 << 30, true);
  assert.notEqual(read, 'out-of-range');
  const data = bytesOf(read as LogRead);
  (read as LogRead).release();
  return splitBatches(data).flatMap((batch) => {
    const base = Number(batch.readBigInt64BE(0));
    return readBatchValues(batch).map((v, i) => ({ offset: base + i, value: v!.toString() }));
  });
}

async function openLog(dir: string, options: Partial<PartitionLogOptions> = {}, clean = true): Promise<PartitionLog> {
  return (await PartitionLog.open(dir, 't', 0, { segmentBytes: 4096, fsync: 'never', ...options }, clean)).log;
}

describe('PartitionLog', () => {
  describe('appending and reading', () => {
    it('gives consecutive offsets and reads every batch back byte for byte across segment rolls', async () => {
      const log = await openLog(freshDir());
      const expected: string[] = [];
      for (let i = 0; i < 120; i++) {
        const values = [`value-${i}-a`.padEnd(50 + (i % 7) * 20, '.'), `value-${i}-b`];
        assert.equal(await append(log, values), expected.length);
        expected.push(...values);
      }
      assert.ok(log.segmentCount > 3, `rolled into ${log.segmentCount} segments`);
      assert.equal(log.logEndOffset, expected.length);
      assert.equal(log.highWatermark, expected.length);
      const got = await readAll(log);
      assert.deepEqual(got.map((r) => r.value), expected);
      assert.deepEqual(got.map((r) => r.offset), expected.map((_, i) => i));
      await log.close();
    });

    it('starts a read at the batch holding the offset, for every offset, from memory or from the index', async () => {
      const dir = freshDir();
      let log = await openLog(dir, { segmentBytes: 1 << 20 });
      for (let i = 0; i < 300; i++) await append(log, [`a${i}`.padEnd(40, '-'), `b${i}`.padEnd(40, '-')]);
      await log.close();
      // Reopened: the recent-batch cache is empty, so lookups go through the index.
      log = await openLog(dir, { segmentBytes: 1 << 20 });
      for (const offset of [0, 1, 2, 77, 301, 598, 599]) {
        const got = await readAll(log, offset);
        assert.equal(got[0]!.offset, offset - (offset % 2), `offset ${offset}`);
        assert.equal(got.at(-1)!.offset, 599);
      }
      await log.close();
    });

    it('sends the whole first batch even when it is larger than max bytes (KIP-74), and no more', async () => {
      const log = await openLog(freshDir(), { segmentBytes: 1 << 20 });
      await append(log, ['x'.repeat(3000)]);
      await append(log, ['y'.repeat(10)]);
      const first = await log.read(0, 100, true) as LogRead;
      const batch = splitBatches(bytesOf(first));
      assert.equal(batch.length, 1);
      assert.equal(first.bytes, batch[0]!.length);
      first.release();
      const partial = await log.read(0, 100, false) as LogRead;
      assert.equal(partial.bytes, 100, 'without minOneBatch: a partial batch, as Kafka sends');
      partial.release();
      await log.close();
    });

    it('answers out-of-range below the log start and past the log end, and nothing at the end', async () => {
      const log = await openLog(freshDir());
      await append(log, ['a', 'b']);
      assert.equal(await log.read(3, 100, true), 'out-of-range');
      const atEnd = await log.read(2, 100, true) as LogRead;
      assert.deepEqual([atEnd.bytes, atEnd.regions.length], [0, 0]);
      await log.close();
    });

    it('finds offsets by timestamp at batch granularity', async () => {
      const log = await openLog(freshDir(), { segmentBytes: 200 });
      await append(log, ['a'], 1000);
      await append(log, ['b', 'c'], 2000);
      await append(log, ['d'], 3000);
      assert.deepEqual(await log.offsetForTimestamp(1500), { offset: 1, timestamp: 2000 });
      assert.deepEqual(await log.offsetForTimestamp(3000), { offset: 3, timestamp: 3000 });
      assert.equal(await log.offsetForTimestamp(3001), undefined);
      await log.close();
    });

    it('serializes concurrent appends: offsets never overlap', async () => {
      const log = await openLog(freshDir(), { fsync: 'always' });
      const offsets = await Promise.all(Array.from({ length: 40 }, (_, i) => append(log, [`m${i}`, `n${i}`])));
      assert.deepEqual([...offsets].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i * 2));
      assert.equal(log.highWatermark, 80);
      assert.equal((await readAll(log)).length, 80);
      await log.close();
    });
  });

  describe('the sparse index', () => {
    async function filled(dir: string): Promise<string[]> {
      const log = await openLog(dir, { segmentBytes: 1 << 20 });
      const values: string[] = [];
      for (let i = 0; i < 200; i++) {
        values.push(`v${i}`.padEnd(100, '#'));
        await append(log, [values.at(-1)!]);
      }
      assert.ok(log.describeSegments()[0]!.indexEntries > 3);
      await log.close();
      return values;
    }

    const damages: [string, (index: string) => void][] = [
      ['missing', (index) => fs.rmSync(index)],
      ['torn (not a whole number of entries)', (index) => fs.truncateSync(index, fs.statSync(index).size - 3)],
      ['pointing past the log', (index) => {
        const entry = Buffer.alloc(8);
        entry.writeInt32BE(1000, 0);
        entry.writeInt32BE(0x7ffffff0, 4);
        fs.appendFileSync(index, entry);
      }],
      ['out of order', (index) => {
        const data = fs.readFileSync(index);
        data.copy(data, 0, 8, 16);
        fs.writeFileSync(index, data);
      }],
    ];
    for (const [what, damage] of damages) {
      it(`is rebuilt from the log when it is ${what}, and reads stay byte for byte`, async () => {
        const dir = freshDir();
        const values = await filled(dir);
        const index = path.join(dir, '00000000000000000000.index');
        const goodIndex = fs.readFileSync(index);
        damage(index);
        const { log, reports } = await PartitionLog.open(dir, 't', 0, { segmentBytes: 1 << 20, fsync: 'never' }, true);
        assert.ok(reports.some((r) => r.baseOffset === 0 && r.indexRebuilt));
        assert.ok(fs.readFileSync(index).equals(goodIndex), 'the rebuilt index is the one appends wrote');
        assert.deepEqual((await readAll(log, 150)).map((r) => r.value), values.slice(150));
        await log.close();
      });
    }
  });

  describe('recovery after an unclean shutdown', () => {
    it('cuts a torn tail, keeps every whole batch, and continues at the recovered end', async () => {
      const dir = freshDir();
      let log = await openLog(dir, { segmentBytes: 1 << 20 });
      for (let i = 0; i < 10; i++) await append(log, [`kept-${i}`]);
      const segment = path.join(dir, '00000000000000000000.log');
      await log.close();
      const size = fs.statSync(segment).size;
      // A batch cut off mid-write: header and half its records.
      fs.appendFileSync(segment, buildBatch([{ value: 'torn'.repeat(50) }]).subarray(0, 90));
      const opened = await PartitionLog.open(dir, 't', 0, { segmentBytes: 1 << 20, fsync: 'never' }, false);
      log = opened.log;
      assert.deepEqual(opened.reports.map((r) => [r.baseOffset, r.truncatedBytes]), [[0, 90]]);
      assert.equal(fs.statSync(segment).size, size);
      assert.equal(log.logEndOffset, 10);
      assert.equal(await append(log, ['after']), 10);
      assert.deepEqual((await readAll(log)).map((r) => r.value), [...Array.from({ length: 10 }, (_, i) => `kept-${i}`), 'after']);
      await log.close();
    });

    it('cuts from the first batch whose CRC fails, even with whole batches after it', async () => {
      const dir = freshDir();
      let log = await openLog(dir, { segmentBytes: 1 << 20 });
      for (let i = 0; i < 5; i++) await append(log, [`ok-${i}`]);
      const segment = path.join(dir, '00000000000000000000.log');
      const goodSize = fs.statSync(segment).size;
      await append(log, ['will be corrupted']);
      await append(log, ['after the corruption']);
      await log.close();
      const fd = fs.openSync(segment, 'r+');
      fs.writeSync(fd, Buffer.from('X'), 0, 1, goodSize + 70);
      fs.closeSync(fd);
      const opened = await PartitionLog.open(dir, 't', 0, { segmentBytes: 1 << 20, fsync: 'never' }, false);
      log = opened.log;
      assert.match(opened.reports[0]!.problem ?? '', /CRC/);
      assert.equal(log.logEndOffset, 5);
      assert.equal(fs.statSync(segment).size, goodSize);
      await log.close();
    });

    it('trusts a cleanly closed log without reading its batches', async () => {
      const dir = freshDir();
      let log = await openLog(dir);
      for (let i = 0; i < 30; i++) await append(log, [`c${i}`.padEnd(200)]);
      await log.close();
      const opened = await PartitionLog.open(dir, 't', 0, { segmentBytes: 4096, fsync: 'never' }, true);
      log = opened.log;
      assert.deepEqual(opened.reports, []);
      assert.equal(log.logEndOffset, 30);
      await log.close();
    });
  });

  describe('retention', () => {
    it('deletes whole old segments over the size limit and moves the log start', async () => {
      const dir = freshDir();
      const log = await openLog(dir, { segmentBytes: 1024 });
      for (let i = 0; i < 60; i++) await append(log, [`r${i}`.padEnd(150)]);
      const before = log.describeSegments();
      const deleted = log.enforceRetention(Date.now(), 3000, undefined);
      assert.ok(deleted > 0);
      const after = log.describeSegments();
      assert.equal(log.logStartOffset, after[0]!.baseOffset);
      assert.ok(log.logStartOffset > 0);
      assert.ok(log.sizeBytes - after[0]!.size < 3000, 'no more than one segment over the limit');
      assert.ok(!fs.existsSync(path.join(dir, `${String(before[0]!.baseOffset).padStart(20, '0')}.log`)));
      assert.equal(await log.read(0, 100, true), 'out-of-range');
      const remaining = await readAll(log, log.logStartOffset);
      assert.equal(remaining[0]!.offset, log.logStartOffset);
      assert.equal(remaining.at(-1)!.offset, 59);
      await log.close();
    });

    it('deletes segments last written longer ago than the time limit, never the active one', async () => {
      const log = await openLog(freshDir(), { segmentBytes: 1024 });
      for (let i = 0; i < 30; i++) await append(log, [`t${i}`.padEnd(150)]);
      const count = log.segmentCount;
      assert.equal(log.enforceRetention(Date.now(), undefined, 60_000), 0, 'nothing is old yet');
      const deleted = log.enforceRetention(Date.now() + 120_000, undefined, 60_000);
      assert.equal(deleted, count - 1);
      assert.equal(log.segmentCount, 1, 'only the active segment is left');
      assert.equal(log.logStartOffset, log.describeSegments()[0]!.baseOffset);
      assert.equal(await append(log, ['next']), 30);
      await log.close();
    });

    it('keeps a deleted segment readable until the fetch that pinned it releases it', async () => {
      const log = await openLog(freshDir(), { segmentBytes: 1024 });
      for (let i = 0; i < 30; i++) await append(log, [`p${i}`.padEnd(150)]);
      const pinned = await log.read(0, 500, true) as LogRead;
      const expected = bytesOf(pinned);
      assert.ok(log.enforceRetention(Date.now(), 100, undefined) > 0);
      assert.ok(bytesOf(pinned).equals(expected), 'the fd still reads the deleted file');
      pinned.release();
      await log.close();
    });
  });
});

describe('LogStore', () => {
  it('refuses a directory another live broker holds, and takes over the lock of a dead one', async () => {
    const dir = freshDir();
    const store = await LogStore.open({ dir, segmentBytes: 4096, fsync: 'never' });
    await assert.rejects(LogStore.open({ dir, segmentBytes: 4096, fsync: 'never' }), { code: 'ZC_ERR_LOG_DIR_LOCKED' });
    await store.close();
    fs.writeFileSync(path.join(dir, '.zerocopy', 'lock'), `${process.ppid}\n`);
    await assert.rejects(LogStore.open({ dir, segmentBytes: 4096, fsync: 'never' }), { code: 'ZC_ERR_LOG_DIR_LOCKED' });
    fs.writeFileSync(path.join(dir, '.zerocopy', 'lock'), '2147483646\n'); // no such process
    const again = await LogStore.open({ dir, segmentBytes: 4096, fsync: 'never' });
    await again.close();
  });

  it('creates topics as partition directories and finds them again after a restart', async () => {
    const dir = freshDir();
    let store = await LogStore.open({ dir, segmentBytes: 4096, fsync: 'never' });
    assert.equal(await store.createTopic('orders', 3), 'created');
    assert.equal(await store.createTopic('orders', 3), 'exists');
    assert.equal(await store.createTopic('bad/name', 1), 'invalid');
    assert.equal(await store.createTopic('..', 1), 'invalid');
    assert.equal(await store.createTopic('x'.repeat(250), 1), 'invalid');
    const [a, b] = await Promise.all([store.createTopic('raced', 2), store.createTopic('raced', 2)]);
    assert.deepEqual([a, b].sort(), ['created', 'exists']);
    await store.close();
    assert.ok(fs.existsSync(path.join(dir, 'orders-2')));
    store = await LogStore.open({ dir, segmentBytes: 4096, fsync: 'never' });
    assert.equal(store.wasClean, true);
    assert.deepEqual(store.topicNames().sort(), ['orders', 'raced']);
    assert.equal(store.partitions('orders')!.length, 3);
    await store.close({ clean: false });
    store = await LogStore.open({ dir, segmentBytes: 4096, fsync: 'never' });
    assert.equal(store.wasClean, false, 'no marker after an unclean close');
    await store.close();
  });
});

describe('OffsetStore', () => {
  it('keeps the last commit per partition across a reopen', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    let store = OffsetStore.open(dir, 'always');
    await store.commit('g', [{ topic: 't', partition: 0, offset: 5, metadata: null }, { topic: 't', partition: 1, offset: 7, metadata: 'm' }]);
    await store.commit('g', [{ topic: 't', partition: 0, offset: 9, metadata: 'later' }]);
    await store.commit('other', [{ topic: 't', partition: 0, offset: 1, metadata: null }]);
    await store.close();
    store = OffsetStore.open(dir, 'always');
    assert.deepEqual(store.get('g', 't', 0), { offset: 9, metadata: 'later' });
    assert.deepEqual(store.get('g', 't', 1), { offset: 7, metadata: 'm' });
    assert.equal(store.listGroup('g').length, 2);
    assert.equal(store.get('g', 't', 2), undefined);
    await store.close();
  });

  it('cuts a torn last record and keeps the ones before it', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    let store = OffsetStore.open(dir, 'never');
    await store.commit('g', [{ topic: 't', partition: 0, offset: 5, metadata: null }]);
    await store.close();
    fs.appendFileSync(path.join(dir, 'offsets.log'), Buffer.from([0, 0, 0, 40, 1, 2, 3]));
    store = OffsetStore.open(dir, 'never');
    assert.equal(store.truncatedBytes, 7);
    assert.deepEqual(store.get('g', 't', 0), { offset: 5, metadata: null });
    await store.commit('g', [{ topic: 't', partition: 0, offset: 6, metadata: null }]);
    await store.close();
    store = OffsetStore.open(dir, 'never');
    assert.equal(store.truncatedBytes, 0);
    assert.equal(store.get('g', 't', 0)!.offset, 6);
    await store.close();
  });

  it('compacts itself so its file stays proportional to the live offsets', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    let store = OffsetStore.open(dir, 'never');
    for (let i = 0; i < 30_000; i++) await store.commit('g', [{ topic: 't', partition: i % 3, offset: i, metadata: null }]);
    await store.close();
    assert.ok(fs.statSync(path.join(dir, 'offsets.log')).size < 2 << 20);
    store = OffsetStore.open(dir, 'never');
    assert.deepEqual([0, 1, 2].map((p) => store.get('g', 't', p)!.offset), [29997, 29998, 29999]);
    await store.close();
  });
});
