/**
 * createLogBroker as a whole: options, retention on a timer, the fsync
 * modes, the advertised address, and `zerocopy log serve`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { createLogBroker } from '../../src/index.js';
import { ApiKey } from '../../src/log/protocol/api-keys.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';
import { startBroker } from './helpers/broker.js';
import { CLI, killLeftoverBrokers, startChildBroker } from './helpers/child-broker.js';
import { buildBatch, splitBatches } from './helpers/record-batches.js';
import { fetchBody, produceBody, readFetchV11, readProduceV8, WireClient } from './helpers/wire-client.js';

const tmp = makeTempDir('zerocopy-log-broker-');
after(() => {
  killLeftoverBrokers();
  tmp.remove();
});

async function earliestOffset(client: WireClient, topic: string): Promise<number> {
  const r = await client.request(ApiKey.ListOffsets, 2, (w) => w.int32(-1).int8(0).int32(1).string(topic).int32(1).int32(0).int64(-2));
  r.int32();
  r.int32();
  r.string();
  r.int32();
  r.int32();
  assert.equal(r.int16(), 0);
  r.int64();
  return r.int64();
}

describe('createLogBroker', () => {
  it('rejects bad options before touching the directory', async () => {
    const dir = path.join(tmp.dir, 'never-created');
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'ZC_ERR_INVALID_ARG'],
      [{ dir, fsync: 'sometimes' }, 'ZC_ERR_INVALID_ARG'],
      [{ dir, segmentBytes: 100 }, 'ZC_ERR_OUT_OF_RANGE'],
      [{ dir, maxRequestBytes: 2 ** 31 }, 'ZC_ERR_OUT_OF_RANGE'],
      [{ dir, partitions: 0 }, 'ZC_ERR_OUT_OF_RANGE'],
      [{ dir, port: 1.5 }, 'ZC_ERR_INVALID_ARG'],
    ];
    for (const [options, code] of cases) {
      await assert.rejects(createLogBroker(options as never), { code }, JSON.stringify(options));
    }
    assert.equal(fs.existsSync(dir), false);
  });

  it('deletes old segments on its retention timer; a fetch below the new start is out of range', async () => {
    const t = await startBroker({ segmentBytes: 4096, retentionBytes: 16 * 1024, retentionCheckIntervalMs: 50 });
    const client = await WireClient.connect(t.port);
    try {
      await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('retained').bool(true));
      for (let i = 0; i < 60; i++) {
        assert.equal(readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('retained', 0, buildBatch([{ value: Buffer.alloc(1000, i) }])))).errorCode, 0);
      }
      const log = t.broker.store.partition('retained', 0)!;
      // Kafka's rule: delete the oldest while the rest still holds retention.bytes.
      const settled = () => log.sizeBytes - log.describeSegments()[0]!.size < 16 * 1024;
      await withTimeout((async () => {
        while (!settled()) await new Promise((resolve) => setTimeout(resolve, 20));
      })(), 5000, 'retention to run');
      assert.ok(log.logStartOffset > 0);
      assert.equal(readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('retained', 0, 0))).errorCode, 1);
      const start = await earliestOffset(client, 'retained');
      assert.equal(start, log.logStartOffset);
      const first = splitBatches(readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('retained', 0, start))).records)[0]!;
      assert.equal(Number(first.readBigInt64BE(0)), start);
    } finally {
      client.close();
      await t.dispose();
    }
  });

  for (const fsync of ['interval', 'never'] as const) {
    it(`acknowledges and serves with fsync '${fsync}', and leaves a clean log on close`, async () => {
      const dir = path.join(tmp.dir, `fsync-${fsync}`);
      let t = await startBroker({ dir, fsync, fsyncIntervalMs: 20 });
      const client = await WireClient.connect(t.port);
      await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('modes').bool(true));
      for (let i = 0; i < 10; i++) await client.request(ApiKey.Produce, 8, produceBody('modes', 0, buildBatch([{ value: `v${i}` }])));
      await new Promise((resolve) => setTimeout(resolve, 60)); // a few interval syncs
      client.close();
      await t.close();
      assert.ok(fs.existsSync(path.join(dir, '.zerocopy', 'clean-shutdown')));
      t = await startBroker({ dir, fsync });
      assert.equal(t.broker.store.partition('modes', 0)!.logEndOffset, 10);
      assert.equal(t.broker.store.recoveries.length, 0, 'a clean log is not recovered');
      await t.close();
    });
  }

  it('recovers after an unclean stop and says so', async () => {
    const dir = path.join(tmp.dir, 'unclean');
    let t = await startBroker({ dir });
    const client = await WireClient.connect(t.port);
    await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('u').bool(true));
    await client.request(ApiKey.Produce, 8, produceBody('u', 0, buildBatch([{ value: 'x' }])));
    client.close();
    await t.close();
    fs.rmSync(path.join(dir, '.zerocopy', 'clean-shutdown'));
    const events: { event: string }[] = [];
    t = await startBroker({ dir, onLog: (e) => events.push(e) });
    assert.ok(events.some((e) => e.event === 'recovered'));
    assert.equal(t.broker.store.partition('u', 0)!.logEndOffset, 1);
    await t.close();
  });

  it('gives clients the advertised address when one is set', async () => {
    const t = await startBroker({ advertisedHost: 'kafka.example', advertisedPort: 19092 });
    const client = await WireClient.connect(t.port);
    try {
      const r = await client.request(ApiKey.Metadata, 1, (w) => w.int32(-1));
      assert.equal(r.int32(), 1);
      assert.deepEqual([r.int32(), r.string(), r.int32()], [1, 'kafka.example', 19092]);
    } finally {
      client.close();
      await t.dispose();
    }
  });

  it('refuses unknown topics when auto-creation is off', async () => {
    const t = await startBroker({ autoCreateTopics: false });
    const client = await WireClient.connect(t.port);
    try {
      const r = await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('absent').bool(true));
      r.int32();
      r.array((x) => [x.int32(), x.string(), x.int32(), x.nullableString()]);
      r.nullableString();
      r.int32();
      assert.equal(r.int32(), 1);
      assert.equal(r.int16(), 3, 'UNKNOWN_TOPIC_OR_PARTITION');
      assert.equal(t.broker.store.partitions('absent'), undefined);
    } finally {
      client.close();
      await t.dispose();
    }
  });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return withTimeout(new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  }), 15000, `zerocopy ${args.join(' ')}`);
}

describe('without the native addon (ZEROCOPY_NATIVE=0)', () => {
  it('produces, fetches and recovers the same bytes through the copy paths', async () => {
    const dir = path.join(tmp.dir, 'no-addon');
    const broker = await startChildBroker(dir, ['--produce-receive-bytes', '64k'], [], { ZEROCOPY_NATIVE: '0' });
    const client = await WireClient.connect(broker.port);
    try {
      await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('plain').bool(true));
      for (let i = 0; i < 6; i++) {
        const records = buildBatch([{ value: Buffer.alloc(i % 2 ? 100 * 1024 : 500, i) }]); // every other one takes the receive path
        assert.equal(readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('plain', 0, records))).errorCode, 0);
      }
      const fetched = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('plain', 0, 0, { partitionMaxBytes: 8 << 20 }))).records;
      const partitionDir = path.join(dir, 'plain-0');
      const stored = Buffer.concat(fs.readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort().map((f) => fs.readFileSync(path.join(partitionDir, f))));
      assert.ok(fetched.equals(stored));
      assert.deepEqual(splitBatches(fetched).map((b) => Number(b.readBigInt64BE(0))), [0, 1, 2, 3, 4, 5]);
    } finally {
      client.close();
      await broker.kill('SIGTERM');
    }
  });
});

describe('zerocopy log serve', () => {
  const usage: [string[], RegExp][] = [
    [['log', 'serve'], /DIR is required/],
    [['log', 'serve', 'd', '--fsync', 'sometimes'], /--fsync must be always, interval or never/],
    [['log', 'serve', 'd', '--segment-bytes', 'lots'], /--segment-bytes must be a byte count/],
    [['log', 'serve', 'd', '--listen', 'nowhere'], /HOST:PORT/],
    [['log', 'serve', 'd', 'e'], /unexpected argument 'e'/],
    [['log', 'bogus'], /unknown subcommand 'bogus'/],
  ];
  for (const [args, message] of usage) {
    it(`exits 2 with a clear message for: zerocopy ${args.join(' ')}`, async () => {
      const result = await runCli(args);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
    });
  }

  it('prints its options with --help', async () => {
    const result = await runCli(['log', 'serve', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--fsync MODE/);
    assert.match(result.stdout, /--retention-bytes/);
  });

  it('serves, refuses a second broker on the same directory, and stops cleanly on SIGTERM', async () => {
    const dir = path.join(tmp.dir, 'cli');
    const broker = await startChildBroker(dir, ['--segment-bytes', '64k', '--partitions', '2']);
    const client = await WireClient.connect(broker.port);
    try {
      const r = await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('cli').bool(true));
      r.int32();
      r.array((x) => [x.int32(), x.string(), x.int32(), x.nullableString()]);
      r.nullableString();
      r.int32();
      r.int32();
      r.int16();
      r.string();
      r.bool();
      assert.equal(r.int32(), 2, '--partitions 2');
    } finally {
      client.close();
    }
    const second = await runCli(['log', 'serve', dir, '--listen', '127.0.0.1:0']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`in use by another broker \\(pid ${broker.pid}\\)`));
    await broker.kill('SIGTERM');
    const [code] = await broker.exit;
    assert.equal(code, 0);
    assert.match(broker.output(), /"event":"stopped"/);
    assert.ok(fs.existsSync(path.join(dir, '.zerocopy', 'clean-shutdown')));
    assert.ok(!fs.existsSync(path.join(dir, '.zerocopy', 'lock')));
  });
});
