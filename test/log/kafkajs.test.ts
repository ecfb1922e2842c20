/**
 * The broker with a real Kafka client: kafkajs 2.2 (npm), over real sockets.
 * Every wait is bounded; every client is disconnected in `finally`.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { CompressionTypes, type Consumer, type Kafka, type KafkaMessage } from 'kafkajs';

import { LOG_REQUEST_CHANNEL, TRANSFER_END_CHANNEL, type LogRequestMessage, type TransferEndMessage } from '../../src/index.js';
import { sha256 } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';
import { startBroker, type TestBroker } from './helpers/broker.js';

const CONSUMER_DEFAULTS = { sessionTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 200, rebalanceTimeout: 10000 };

interface Collected {
  messages: { partition: number; offset: number; value: Buffer; key: string | null }[];
  done: Promise<void>;
}

/** Runs `consumer` until `count` messages arrived (bounded by `timeoutMs`). */
function collect(consumer: Consumer, count: number, timeoutMs = 20000): Collected {
  const messages: Collected['messages'] = [];
  let finish!: () => void;
  const arrived = new Promise<void>((resolve) => (finish = resolve));
  void consumer.run({
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      messages.push({ partition, offset: Number(message.offset), value: message.value!, key: message.key?.toString() ?? null });
      if (messages.length >= count) finish();
    },
  });
  return { messages, done: withTimeout(arrived, timeoutMs, `${count} messages`) };
}

function payloads(count: number, seed: string): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const size = (i * 7919) % 20000 + 1;
    const block = crypto.createHash('sha256').update(`${seed}-${i}`).digest();
    const value = Buffer.alloc(size);
    for (let at = 0; at < size; at += block.length) block.copy(value, at);
    return value;
  });
}

async function produce(kafka: Kafka, topic: string, values: Buffer[], options: { acks?: number; compression?: CompressionTypes; batch?: number } = {}): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    const batch = options.batch ?? 100;
    for (let i = 0; i < values.length; i += batch) {
      await producer.send({
        topic,
        acks: options.acks ?? -1,
        compression: options.compression ?? CompressionTypes.None,
        messages: values.slice(i, i + batch).map((value, j) => ({ key: `k${i + j}`, value })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

describe('kafkajs against the broker', () => {
  let t: TestBroker;
  const versions = new Set<string>();
  const onRequest = (m: unknown) => {
    const r = m as LogRequestMessage;
    if (r.clientId?.startsWith('zerocopy-test')) versions.add(`${r.apiName} v${r.apiVersion}`);
  };
  before(async () => {
    diagnosticsChannel.subscribe(LOG_REQUEST_CHANNEL, onRequest);
    t = await startBroker({ segmentBytes: 256 * 1024 });
  });
  after(async () => {
    diagnosticsChannel.unsubscribe(LOG_REQUEST_CHANNEL, onRequest);
    await t.dispose();
    // What kafkajs 2.2 chose against the advertised ranges (docs/log.md lists them).
    console.log(`# kafkajs picked: ${[...versions].sort().join(', ')}`);
  });

  it('produces and consumes 1000 messages byte for byte, in order, across segment rolls, with fetch bodies sent by sendfile', async () => {
    const kafka = t.kafka();
    const values = payloads(1000, 'order');
    await produce(kafka, 'ordered', values);
    assert.ok(t.broker.store.partition('ordered', 0)!.segmentCount > 5, 'the data spans several segments');
    const fetches: TransferEndMessage[] = [];
    const listener = (m: unknown) => fetches.push(m as TransferEndMessage);
    diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
    const consumer = kafka.consumer({ groupId: 'ordered-reader', ...CONSUMER_DEFAULTS });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: 'ordered', fromBeginning: true });
      const got = collect(consumer, values.length);
      await got.done;
      assert.deepEqual(got.messages.map((m) => m.offset), values.map((_, i) => i));
      assert.deepEqual(got.messages.map((m) => sha256(m.value)), values.map(sha256));
      assert.deepEqual(got.messages.map((m) => m.key), values.map((_, i) => `k${i}`));
    } finally {
      diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
      await consumer.disconnect();
    }
    const total = values.reduce((n, v) => n + v.length, 0);
    const sent = fetches.filter((m) => m.method === 'sendfile').reduce((n, m) => n + m.bytes, 0);
    assert.ok(sent >= total, `record bytes left by sendfile: ${sent} of at least ${total}`);
    assert.equal(fetches.filter((m) => m.method === 'copy').length, 0, 'nothing was copied');
  });

  it('consumes from a given offset', async () => {
    const kafka = t.kafka();
    const values = payloads(300, 'seek');
    await produce(kafka, 'seekable', values);
    const consumer = kafka.consumer({ groupId: 'seeker', ...CONSUMER_DEFAULTS });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: 'seekable', fromBeginning: true });
      const got = collect(consumer, 300 - 123);
      consumer.seek({ topic: 'seekable', partition: 0, offset: '123' });
      await got.done;
      const fromSeek = got.messages.slice(got.messages.findIndex((m) => m.offset === 123));
      assert.deepEqual(fromSeek.map((m) => m.offset), values.slice(123).map((_, i) => 123 + i));
      assert.deepEqual(fromSeek.map((m) => sha256(m.value)), values.slice(123).map(sha256));
    } finally {
      await consumer.disconnect();
    }
  });

  it('answers offset queries: earliest, latest and by timestamp', async () => {
    const kafka = t.kafka();
    const producer = kafka.producer();
    const admin = kafka.admin();
    await producer.connect();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'timed', numPartitions: 1 }] });
      const base = Date.now() - 100_000;
      for (let i = 0; i < 5; i++) await producer.send({ topic: 'timed', messages: [{ value: `at-${i}`, timestamp: String(base + i * 1000) }] });
      const [offsets] = await admin.fetchTopicOffsets('timed');
      assert.deepEqual([offsets!.low, offsets!.high], ['0', '5']);
      const [byTime] = await admin.fetchTopicOffsetsByTimestamp('timed', base + 2500);
      assert.equal(byTime!.offset, '3');
      const [beyond] = await admin.fetchTopicOffsetsByTimestamp('timed', base + 10_000);
      assert.equal(beyond!.offset, '5', 'kafkajs falls back to the latest offset when none is that late');
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('stores GZIP batches as produced and hands them back intact', async () => {
    const kafka = t.kafka();
    const values = Array.from({ length: 200 }, (_, i) => Buffer.from(`compressible ${i} `.repeat(50)));
    await produce(kafka, 'gzipped', values, { compression: CompressionTypes.GZIP, batch: 50 });
    const log = fs.readFileSync(path.join(t.dir, 'gzipped-0', '00000000000000000000.log'));
    assert.equal(log.readInt16BE(21) & 7, 1, 'the stored batch is still gzip-compressed');
    assert.ok(log.length < values.reduce((n, v) => n + v.length, 0) / 5, 'and still small');
    const consumer = kafka.consumer({ groupId: 'gzip-reader', ...CONSUMER_DEFAULTS });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: 'gzipped', fromBeginning: true });
      const got = collect(consumer, values.length);
      await got.done;
      assert.deepEqual(got.messages.map((m) => m.value.toString()), values.map((v) => v.toString()));
    } finally {
      await consumer.disconnect();
    }
  });

  it('acknowledges with acks 0, 1 and -1, and every acknowledged message is there', async () => {
    const kafka = t.kafka();
    for (const acks of [0, 1, -1]) await produce(kafka, 'acked', [Buffer.from(`acks=${acks}`)], { acks });
    const consumer = kafka.consumer({ groupId: 'ack-reader', ...CONSUMER_DEFAULTS });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: 'acked', fromBeginning: true });
      const got = collect(consumer, 3);
      await got.done;
      assert.deepEqual(got.messages.map((m) => m.value.toString()), ['acks=0', 'acks=1', 'acks=-1']);
    } finally {
      await consumer.disconnect();
    }
  });

  it('serves 8 consumers reading the same data at once, each byte for byte', async () => {
    const kafka = t.kafka();
    const values = payloads(400, 'fan-out');
    await produce(kafka, 'fan-out', values);
    const consumers = Array.from({ length: 8 }, (_, i) => kafka.consumer({ groupId: `fan-${i}`, ...CONSUMER_DEFAULTS }));
    try {
      const runs = await Promise.all(consumers.map(async (consumer) => {
        await consumer.connect();
        await consumer.subscribe({ topic: 'fan-out', fromBeginning: true });
        return collect(consumer, values.length, 30000);
      }));
      await Promise.all(runs.map((r) => r.done));
      const expected = values.map(sha256);
      for (const run of runs) assert.deepEqual(run.messages.map((m) => sha256(m.value)), expected);
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect()));
    }
  });

  it('creates topics through the admin API and refuses a replication factor above 1', async () => {
    const admin = t.kafka().admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic: 'three', numPartitions: 3 }] }), true);
      assert.equal(t.broker.store.partitions('three')!.length, 3);
      await assert.rejects(admin.createTopics({ topics: [{ topic: 'replicated', replicationFactor: 2 }] }));
      const metadata = await admin.fetchTopicMetadata({ topics: ['three'] });
      assert.deepEqual(metadata.topics[0]!.partitions.map((p) => [p.partitionId, p.leader]), [[0, 1], [1, 1], [2, 1]]);
      const cluster = await admin.describeCluster();
      assert.deepEqual(cluster.brokers.map((b) => b.nodeId), [1]);
      assert.equal(cluster.controller, 1);
      assert.equal(cluster.clusterId, t.broker.clusterId);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('a kafkajs consumer group', () => {
  it('splits partitions between two members, rebalances when one leaves, and keeps committed offsets across a broker restart', async () => {
    let t = await startBroker();
    const dir = t.dir;
    let restarted: TestBroker | undefined;
    const consumers: Consumer[] = [];
    try {
      const kafka = t.kafka();
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 2 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      const first = Array.from({ length: 40 }, (_, i) => ({ value: `first-${i}`, partition: i % 2 }));
      await producer.send({ topic: 'shared', messages: first });

      const assignments = new Map<string, number[]>();
      const member = async (name: string) => {
        const consumer = kafka.consumer({ groupId: 'team', ...CONSUMER_DEFAULTS });
        consumers.push(consumer);
        consumer.on(consumer.events.GROUP_JOIN, (e) => assignments.set(name, e.payload.memberAssignment['shared'] ?? []));
        await consumer.connect();
        await consumer.subscribe({ topic: 'shared', fromBeginning: true });
        return consumer;
      };
      const seen: string[] = [];
      const a = await member('a');
      void a.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      await withTimeout((async () => {
        while (seen.length < 40) await new Promise((r) => setTimeout(r, 20));
      })(), 20000, 'member a reads everything');
      assert.deepEqual(assignments.get('a')!.sort(), [0, 1]);

      const b = await member('b');
      void b.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      await withTimeout((async () => {
        while (assignments.get('b') === undefined || assignments.get('a')!.length !== 1) await new Promise((r) => setTimeout(r, 20));
      })(), 20000, 'the rebalance after b joined');
      assert.deepEqual([...assignments.get('a')!, ...assignments.get('b')!].sort(), [0, 1], 'each member got one partition');
      const described = t.broker.describeGroup('team')!;
      assert.equal(described.state, 'Stable');
      assert.equal(described.members.length, 2);

      await producer.send({ topic: 'shared', messages: Array.from({ length: 20 }, (_, i) => ({ value: `second-${i}`, partition: i % 2 })) });
      await withTimeout((async () => {
        while (!Array.from({ length: 20 }, (_, i) => `second-${i}`).every((v) => seen.includes(v))) await new Promise((r) => setTimeout(r, 20));
      })(), 20000, 'both members read their partition');

      const generation = t.broker.describeGroup('team')!.generationId;
      await b.disconnect();
      await withTimeout((async () => {
        while (assignments.get('a')!.length !== 2) await new Promise((r) => setTimeout(r, 20));
      })(), 20000, 'the rebalance after b left');
      assert.ok(t.broker.describeGroup('team')!.generationId > generation);
      await a.disconnect();
      await producer.disconnect();

      // Both partitions' offsets were committed at the end (kafkajs commits what it processed).
      await t.close();
      restarted = await startBroker({ dir });
      const offsets = await (async () => {
        const admin2 = restarted.kafka().admin();
        await admin2.connect();
        try {
          return await admin2.fetchOffsets({ groupId: 'team', topics: ['shared'] });
        } finally {
          await admin2.disconnect();
        }
      })();
      assert.deepEqual(offsets[0]!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '30'], [1, '30']]);

      // A new member of the group resumes after the committed offsets: it sees only new messages.
      const kafka2 = restarted.kafka();
      const producer2 = kafka2.producer();
      await producer2.connect();
      await producer2.send({ topic: 'shared', messages: [{ value: 'after-restart-0', partition: 0 }, { value: 'after-restart-1', partition: 1 }] });
      await producer2.disconnect();
      const c = kafka2.consumer({ groupId: 'team', ...CONSUMER_DEFAULTS });
      consumers.push(c);
      await c.connect();
      await c.subscribe({ topic: 'shared', fromBeginning: true });
      const got = collect(c, 2);
      await got.done;
      assert.deepEqual(got.messages.map((m) => m.value.toString()).sort(), ['after-restart-0', 'after-restart-1']);
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect().catch(() => {})));
      if (restarted) await restarted.close();
      else await t.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
