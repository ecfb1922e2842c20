/**
 * Bad input closes that connection and nothing else (as Kafka does), and a
 * length prefix never makes the broker allocate what it claims.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { ApiKey } from '../../src/log/protocol/api-keys.js';
import { withTimeout } from '../helpers/process.js';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { buildBatch } from './helpers/record-batches.js';
import { fetchBody, produceBody, readFetchV11, readProduceV8, WireClient } from './helpers/wire-client.js';

const MAX_REQUEST_BYTES = 1 << 20;

function sizePrefix(size: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(size, 0);
  return prefix;
}

describe('bad input', () => {
  let t: TestBroker;
  let bystander: WireClient;
  const events: { event: string; reason?: string }[] = [];

  /** The well-behaved connection still gets answers. */
  async function assertBystanderServed(): Promise<void> {
    const reader = await bystander.request(ApiKey.Metadata, 1, (w) => w.int32(-1));
    assert.equal(reader.int32(), 1, 'one broker in the metadata');
  }

  async function assertClosed(client: WireClient, what: string): Promise<void> {
    await withTimeout(client.closed, 5000, `the broker to close the connection after ${what}`);
    await assertBystanderServed();
  }

  before(async () => {
    t = await startBroker({ maxRequestBytes: MAX_REQUEST_BYTES, onLog: (e) => events.push(e as never) });
    bystander = await WireClient.connect(t.port);
    await assertBystanderServed();
  });
  after(async () => {
    bystander.close();
    await t.dispose();
  });

  describe('when a frame cannot be framed', () => {
    const cases: [string, Buffer][] = [
      ['a 2 GiB length prefix', sizePrefix(0x7fffffff)],
      ['a length one byte over max-request-bytes', sizePrefix(MAX_REQUEST_BYTES + 1)],
      ['a negative length', sizePrefix(-1)],
      ['a length too small for a request header', Buffer.concat([sizePrefix(4), Buffer.alloc(4)])],
    ];
    for (const [what, bytes] of cases) {
      it(`closes the connection on ${what}, at once and without allocating it`, async () => {
        const before = process.memoryUsage();
        const client = await WireClient.connect(t.port);
        client.writeRaw(bytes);
        await assertClosed(client, what);
        const grown = process.memoryUsage().arrayBuffers - before.arrayBuffers;
        assert.ok(grown < 64 << 20, `buffers grew by ${grown} bytes`);
      });
    }

    it('accepts a request of exactly max-request-bytes', async () => {
      const body = (valueBytes: number) => produceBody('at-limit', 0, buildBatch([{ value: Buffer.alloc(valueBytes, 1) }]));
      const frameBytes = (valueBytes: number) => WireClient.frame(ApiKey.Produce, 8, 1, body(valueBytes)).length - 4;
      const probe = MAX_REQUEST_BYTES - 300;
      const valueBytes = probe + (MAX_REQUEST_BYTES - frameBytes(probe));
      assert.equal(frameBytes(valueBytes), MAX_REQUEST_BYTES);
      const client = await WireClient.connect(t.port);
      try {
        await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('at-limit').bool(true));
        assert.equal(readProduceV8(await client.request(ApiKey.Produce, 8, body(valueBytes))).errorCode, 0);
      } finally {
        client.close();
      }
    });
  });

  describe('when a request cannot be parsed or is not spoken', () => {
    const cases: [string, () => Buffer][] = [
      ['random garbage behind a plausible size', () => Buffer.concat([sizePrefix(500), crypto.randomBytes(500)])],
      ['an unknown API key', () => WireClient.frame(999, 0, 1, () => {})],
      ['a version of a known API this broker does not implement (Fetch v3)', () => WireClient.frame(ApiKey.Fetch, 3, 1, () => {})],
      ['a flexible version (Metadata v9)', () => WireClient.frame(ApiKey.Metadata, 9, 1, (w) => w.int8(0))],
      ['a body cut short (Metadata asking for 5 topics, naming none)', () => WireClient.frame(ApiKey.Metadata, 1, 1, (w) => w.int32(5))],
      ['a string length running past the frame', () => WireClient.frame(ApiKey.FindCoordinator, 1, 1, (w) => w.int16(300).raw(Buffer.from('abc')))],
      ['an array count of 2 billion', () => WireClient.frame(ApiKey.Produce, 7, 1, (w) => w.nullableString(null).int16(1).int32(1000).int32(2_000_000_000))],
      ['a client id longer than the frame', () => Buffer.concat([sizePrefix(10), Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff])])],
    ];
    for (const [what, build] of cases) {
      it(`closes that connection on ${what}; everyone else is still served`, async () => {
        const client = await WireClient.connect(t.port);
        client.writeRaw(build());
        await assertClosed(client, what);
      });
    }

    it('closes a connection that ends in the middle of a frame', async () => {
      const client = await WireClient.connect(t.port);
      const frame = WireClient.frame(ApiKey.Metadata, 1, 1, (w) => w.int32(-1));
      client.socket.end(frame.subarray(0, frame.length - 3));
      await assertClosed(client, 'a truncated frame');
    });

    it('survives 50 garbage connections at once while a kafkajs client produces and consumes', async () => {
      const kafka = t.kafka();
      const producer = kafka.producer();
      await producer.connect();
      try {
        const attackers = await Promise.all(Array.from({ length: 50 }, () => WireClient.connect(t.port)));
        attackers.forEach((a, i) => a.writeRaw(i % 2 ? sizePrefix(0x7fffffff) : Buffer.concat([sizePrefix(64), crypto.randomBytes(64)])));
        const values = Array.from({ length: 50 }, (_, i) => `during-attack-${i}`);
        await producer.send({ topic: 'attacked', messages: values.map((value) => ({ value })) });
        await withTimeout(Promise.all(attackers.map((a) => a.closed)), 10000, 'every garbage connection closed');
        const response = readFetchV11(await bystander.request(ApiKey.Fetch, 11, fetchBody('attacked', 0, 0)));
        assert.equal(response.errorCode, 0);
        assert.equal(response.highWatermark, 50);
      } finally {
        await producer.disconnect();
      }
    });
  });

  describe('ApiVersions', () => {
    it('answers a version it does not speak with error 35 in the v0 shape, and keeps the connection', async () => {
      const client = await WireClient.connect(t.port);
      try {
        const refused = await client.request(ApiKey.ApiVersions, 3, (w) => w.int8(1).int8(1).int8(0));
        assert.equal(refused.int16(), 35);
        assert.deepEqual(refused.array((r) => [r.int16(), r.int16(), r.int16()]), [[ApiKey.ApiVersions, 0, 2]]);
        refused.expectEnd('the v0 shape');
        const accepted = await client.request(ApiKey.ApiVersions, 2);
        assert.equal(accepted.int16(), 0);
        assert.ok(client.isOpen);
      } finally {
        client.close();
      }
    });
  });

  describe('when produced batches are invalid', () => {
    before(async () => {
      await bystander.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('strict').bool(true));
    });

    const cases: [string, () => Buffer][] = [
      ['a bad CRC', () => buildBatch([{ value: 'x' }], { badCrc: true })],
      ['magic 1 (an old message set)', () => buildBatch([{ value: 'x' }], { magic: 1 })],
      ['a batch cut short', () => buildBatch([{ value: 'x'.repeat(100) }]).subarray(0, 80)],
      ['a good batch followed by a corrupt one', () => Buffer.concat([buildBatch([{ value: 'ok' }]), buildBatch([{ value: 'bad' }], { badCrc: true })])],
    ];
    for (const [what, build] of cases) {
      it(`answers CORRUPT_MESSAGE for ${what}, appends nothing and keeps the connection`, async () => {
        const log = t.broker.store.partition('strict', 0)!;
        const end = log.logEndOffset;
        const response = readProduceV8(await bystander.request(ApiKey.Produce, 8, produceBody('strict', 0, build())));
        assert.equal(response.errorCode, 2);
        assert.ok(response.errorMessage);
        assert.equal(log.logEndOffset, end);
        await assertBystanderServed();
      });
    }

    it('answers Produce v2 (no transactional id, no throttle time before v1) in its own shape', async () => {
      const response = await bystander.request(ApiKey.Produce, 2, (w) => {
        w.int16(-1).int32(1000).int32(1).string('strict').int32(1).int32(0).nullableBytes(buildBatch([{ value: 'x' }], { magic: 1 }));
      });
      assert.deepEqual([response.int32(), response.string(), response.int32(), response.int32(), response.int16()], [1, 'strict', 1, 0, 2]);
      response.int64();
      response.int64();
      response.int32();
      response.expectEnd('Produce v2 response');
    });

    it('closes the connection when a produce with acks=0 fails, since it has no other way to say so', async () => {
      const client = await WireClient.connect(t.port);
      client.send(ApiKey.Produce, 7, produceBody('strict', 0, buildBatch([{ value: 'x' }], { badCrc: true }), 0));
      await assertClosed(client, 'a failed acks=0 produce');
    });

    it('answers UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist', async () => {
      const response = readProduceV8(await bystander.request(ApiKey.Produce, 8, produceBody('strict', 7, buildBatch([{ value: 'x' }]))));
      assert.equal(response.errorCode, 3);
    });
  });

  describe('fetch offsets outside the log', () => {
    it('answers OFFSET_OUT_OF_RANGE past the end, and an empty answer at the end', async () => {
      await bystander.request(ApiKey.Produce, 8, produceBody('strict', 0, buildBatch([{ value: 'one' }])));
      const log = t.broker.store.partition('strict', 0)!;
      const beyond = readFetchV11(await bystander.request(ApiKey.Fetch, 11, fetchBody('strict', 0, log.logEndOffset + 1)));
      assert.equal(beyond.errorCode, 1);
      const atEnd = readFetchV11(await bystander.request(ApiKey.Fetch, 11, fetchBody('strict', 0, log.logEndOffset)));
      assert.deepEqual([atEnd.errorCode, atEnd.records.length], [0, 0]);
    });
  });

  it('logged why each connection was closed', () => {
    assert.ok(events.some((e) => e.event === 'connection-closed' && /exceeds/.test(e.reason ?? '')));
    assert.ok(events.some((e) => e.event === 'connection-closed' && /not supported/.test(e.reason ?? '')));
    assert.ok(events.some((e) => e.event === 'connection-closed' && /malformed/.test(e.reason ?? '')));
  });
});
