/**
 * The broker with kcat (librdkafka), where installed: produce and consume,
 * every compression codec passing through untouched, offsets, metadata, a
 * balanced consumer group, and kafkajs reading what kcat wrote and back.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { LOG_REQUEST_CHANNEL, type LogRequestMessage } from '../../src/index.js';
import { withTimeout } from '../helpers/process.js';
import { startBroker, type TestBroker } from './helpers/broker.js';

const hasKcat = spawnSync('kcat', ['-V']).status === 0;
const SKIP = hasKcat ? false : 'kcat is not installed (apt-get install -y kcat)';

/** Runs kcat with `args`, stdin from `input`; bounded by `timeoutMs`. */
function kcat(args: string[], input = '', timeoutMs = 20000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return withTimeout(new Promise((resolve) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs - 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  }), timeoutMs, `kcat ${args.join(' ')}`);
}

function lines(count: number, seed: string): string[] {
  return Array.from({ length: count }, (_, i) => crypto.createHash('sha256').update(`${seed}${i}`).digest('hex').repeat(1 + (i % 9)));
}

/** Attributes of every batch stored in a partition's first segment. */
function storedCompression(dir: string, topic: string): number[] {
  const log = fs.readFileSync(path.join(dir, `${topic}-0`, '00000000000000000000.log'));
  const codecs: number[] = [];
  for (let at = 0; at < log.length; at += 12 + log.readInt32BE(at + 8)) codecs.push(log.readInt16BE(at + 21) & 7);
  return codecs;
}

describe('kcat against the broker', { skip: SKIP }, () => {
  let t: TestBroker;
  const versions = new Set<string>();
  const onRequest = (m: unknown) => {
    const r = m as LogRequestMessage;
    if (r.clientId === 'rdkafka') versions.add(`${r.apiName} v${r.apiVersion}${r.supported ? '' : ' (refused)'}`);
  };
  before(async () => {
    diagnosticsChannel.subscribe(LOG_REQUEST_CHANNEL, onRequest);
    t = await startBroker({ segmentBytes: 64 * 1024 });
  });
  after(async () => {
    diagnosticsChannel.unsubscribe(LOG_REQUEST_CHANNEL, onRequest);
    await t?.dispose();
    console.log(`# kcat picked: ${[...versions].sort().join(', ')}`);
  });

  it('produces and consumes 5000 lines byte for byte, in order, across segment rolls', async () => {
    const sent = lines(5000, 'plain');
    const produced = await kcat(['-b', t.bootstrap, '-P', '-t', 'lines', '-X', 'batch.num.messages=100'], sent.join('\n') + '\n');
    assert.equal(produced.code, 0, produced.stderr);
    assert.ok(t.broker.store.partition('lines', 0)!.segmentCount > 3);
    const consumed = await kcat(['-b', t.bootstrap, '-C', '-t', 'lines', '-o', 'beginning', '-e', '-f', '%o %s\n']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trimEnd().split('\n'), sent.map((line, i) => `${i} ${line}`));
  });

  for (const [codec, id] of [['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]] as const) {
    it(`stores ${codec} batches as produced (never re-encoded) and serves them back intact`, async () => {
      const topic = `z-${codec}`;
      const sent = lines(500, codec);
      const produced = await kcat(['-b', t.bootstrap, '-P', '-t', topic, '-z', codec], sent.join('\n') + '\n');
      assert.equal(produced.code, 0, produced.stderr);
      const codecs = storedCompression(t.dir, topic);
      // librdkafka sends a batch uncompressed when compressing did not shrink
      // it (a small last batch), so codec 0 may appear beside the one asked for.
      assert.ok(codecs.includes(id) && codecs.every((c) => c === id || c === 0), `stored codecs ${codecs}`);
      assert.ok(codecs.filter((c) => c === id).length >= codecs.length / 2, `mostly ${codec}: ${codecs}`);
      const consumed = await kcat(['-b', t.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%s\n']);
      assert.deepEqual(consumed.stdout.trimEnd().split('\n'), sent);
    });
  }

  it('consumes from a given offset and a given count', async () => {
    const sent = lines(100, 'offsets');
    await kcat(['-b', t.bootstrap, '-P', '-t', 'offsets'], sent.join('\n') + '\n');
    const consumed = await kcat(['-b', t.bootstrap, '-C', '-t', 'offsets', '-o', '40', '-c', '5', '-f', '%o %s\n']);
    assert.deepEqual(consumed.stdout.trimEnd().split('\n'), sent.slice(40, 45).map((line, i) => `${40 + i} ${line}`));
    const tail = await kcat(['-b', t.bootstrap, '-C', '-t', 'offsets', '-o', '-3', '-e', '-f', '%o\n']);
    assert.deepEqual(tail.stdout.trimEnd().split('\n'), ['97', '98', '99']);
  });

  it('answers offset queries by timestamp (-Q)', async () => {
    const base = Date.now() - 60_000;
    for (let i = 0; i < 4; i++) {
      const produced = await kcat(['-b', t.bootstrap, '-P', '-t', 'timeline', '-K', ':'], `k:at-${i}\n`);
      assert.equal(produced.code, 0);
    }
    const query = await kcat(['-b', t.bootstrap, '-Q', '-t', `timeline:0:${base}`]);
    assert.match(query.stdout, /timeline \[0\] offset 0/);
    const future = await kcat(['-b', t.bootstrap, '-Q', '-t', `timeline:0:${Date.now() + 3_600_000}`]);
    assert.match(future.stdout, /timeline \[0\] offset -1/);
  });

  it('lists metadata naming this broker as leader and controller (-L)', async () => {
    await kcat(['-b', t.bootstrap, '-P', '-t', 'listed'], 'x\n');
    const listed = await kcat(['-b', t.bootstrap, '-L', '-t', 'listed']);
    assert.match(listed.stdout, new RegExp(`broker 1 at 127\\.0\\.0\\.1:${t.port} \\(controller\\)`));
    assert.match(listed.stdout, /partition 0, leader 1, replicas: 1, isrs: 1/);
  });

  it('runs a balanced consumer group (-G) that reads everything and commits its offsets', async () => {
    const sent = lines(300, 'group');
    await kcat(['-b', t.bootstrap, '-P', '-t', 'grouped'], sent.join('\n') + '\n');
    const consumed = await kcat(['-b', t.bootstrap, '-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000', '-e', '-f', '%s\n', 'grouped']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trimEnd().split('\n'), sent);
    assert.match(consumed.stderr, /assigned: grouped \[0\]/);
    const admin = t.kafka().admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId: 'kcat-group', topics: ['grouped'] });
      assert.equal(offsets[0]!.partitions[0]!.offset, '300');
    } finally {
      await admin.disconnect();
    }
  });

  it('interoperates with kafkajs both ways', async () => {
    const fromKcat = lines(50, 'kcat-to-kafkajs');
    await kcat(['-b', t.bootstrap, '-P', '-t', 'cross', '-z', 'gzip'], fromKcat.join('\n') + '\n');
    const kafka = t.kafka();
    const consumer = kafka.consumer({ groupId: 'cross-reader', maxWaitTimeInMs: 200 });
    const got: string[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: 'cross', fromBeginning: true });
      await withTimeout(new Promise<void>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => {
          got.push(message.value!.toString());
          if (got.length === fromKcat.length) resolve();
        } });
      }), 20000, 'kafkajs reading kcat\'s messages');
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(got, fromKcat);
    const producer = kafka.producer();
    await producer.connect();
    const fromKafkajs = lines(50, 'kafkajs-to-kcat');
    await producer.send({ topic: 'cross-back', messages: fromKafkajs.map((value) => ({ value })) });
    await producer.disconnect();
    const consumed = await kcat(['-b', t.bootstrap, '-C', '-t', 'cross-back', '-o', 'beginning', '-e', '-f', '%s\n']);
    assert.deepEqual(consumed.stdout.trimEnd().split('\n'), fromKafkajs);
  });
});
