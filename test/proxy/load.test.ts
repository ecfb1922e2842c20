import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';

import { formatRecordText, metrics, PipePool } from '../../src/index.js';
import { sharedPipePool } from '../../src/transfer/pipe-pool.js';
import { collect } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';
import {
  asConnection,
  closedWithin,
  connectClient,
  MIB,
  spawnProxyCli,
  startEchoUpstream,
  startProxy,
  startUpstream,
  type Upstream,
} from './harness.js';

const GIB = 1 << 30;
const modes = ['kernel', 'forced copy'] as const;

/**
 * Bound on the proxy process's RSS growth while 1 GiB goes through it to a
 * slow reader (after a warm-up stream). Nothing on its path may buffer in
 * user space: it splices, or copies through one 256 KiB buffer per
 * direction. A relay that buffered what the reader cannot take yet would
 * grow by up to the gigabyte.
 */
const MAX_PROXY_RSS_GROWTH_BYTES = 16 * MIB;

/** The largest TCP receive and send buffers autotuning may reach (tcp_rmem[2], tcp_wmem[2]). */
function maxSocketBuffers(): { rmem: number; wmem: number } {
  const third = (file: string) => Number(fs.readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
  return { rmem: third('/proc/sys/net/ipv4/tcp_rmem'), wmem: third('/proc/sys/net/ipv4/tcp_wmem') };
}

/**
 * Bound on bytes written but not yet read at any moment: what the kernel may
 * hold on the two hops (a send and a receive buffer each), one 1 MiB pipe,
 * and a few MiB for Node's own queues. Without backpressure the writer would
 * run a gigabyte ahead.
 */
function maxInFlightBytes(): number {
  const { rmem, wmem } = maxSocketBuffers();
  return 2 * (rmem + wmem) + MIB + 8 * MIB;
}
/** The slow reader's pace: several times slower than the writer, and 1 GiB still takes only ~7 s. */
const SLOW_READER_BYTES_PER_SECOND = 160 * MIB;

/** Writes `total` bytes by re-sending one 1 MiB buffer, waiting for 'drain'; counts what was handed to Node. */
async function writeFast(socket: net.Socket, total: number, progress: { sent: number }): Promise<void> {
  const block = Buffer.alloc(MIB, 0x5a);
  while (progress.sent < total) {
    const piece = total - progress.sent >= block.length ? block : block.subarray(0, total - progress.sent);
    progress.sent += piece.length;
    if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  socket.end();
}

/** Reads at about `bytesPerSecond`, dropping the bytes; resolves the count at EOF. */
function readSlowly(socket: net.Socket, bytesPerSecond: number, progress: { received: number }): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      progress.received += chunk.length;
      const ahead = (progress.received / bytesPerSecond) * 1000 - (Date.now() - started);
      if (ahead > 5) {
        socket.pause();
        setTimeout(() => socket.resume(), ahead);
      }
    });
    socket.once('end', () => resolve(progress.received));
    socket.once('error', reject);
  });
}

/** Median and 99th percentile of a list of milliseconds. */
function summarize(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, p99: sorted[Math.floor(sorted.length * 0.99)]! };
}

/** Round trips of `size`-byte messages over `socket` (to an echo): the time of each, in ms. */
async function pingPong(socket: net.Socket, rounds: number, size: number): Promise<number[]> {
  const message = Buffer.alloc(size, 0x61);
  const times: number[] = [];
  let pending: (() => void) | undefined;
  let got = 0;
  socket.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got >= size) {
      got -= size;
      pending?.();
    }
  });
  for (let i = 0; i < rounds; i++) {
    const began = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      pending = resolve;
      socket.write(message);
    });
    times.push(Number(process.hrtime.bigint() - began) / 1e6);
  }
  socket.removeAllListeners('data');
  return times;
}

for (const mode of modes) {
  describe(`proxy under load (${mode})`, () => {
    const method = mode === 'forced copy' ? ('copy' as const) : ('auto' as const);
    const cleanup: Array<() => unknown> = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    it(`moves 1 GiB to a slow reader with the proxy's RSS growth under ${MAX_PROXY_RSS_GROWTH_BYTES / MIB} MiB and the writer held back`, async (t) => {
      const upstream = await startUpstream();
      cleanup.push(() => upstream.close());
      // The proxy runs alone in its own process, so its memory is measured
      // apart from this process's writer and reader.
      const proxy = await spawnProxyCli(['--to', `127.0.0.1:${upstream.port}`, '--json', ...(mode === 'forced copy' ? ['--copy'] : [])]);
      cleanup.push(() => proxy.stop());

      const warm = await connectClient(proxy.port);
      const warmServer = await upstream.nextConnection();
      const warmProgress = { sent: 0, received: 0 };
      await withTimeout(Promise.all([readSlowly(warmServer, Infinity, warmProgress), writeFast(warm, 64 * MIB, warmProgress)]), 30000, 'warm-up');
      warmServer.end();
      await proxy.waitForLine('stdout', /"event":"connection"/);

      const client = await connectClient(proxy.port);
      const server = await upstream.nextConnection();
      const baselineRss = proxy.rssBytes();
      let peakRss = baselineRss;
      let maxInFlight = 0;
      const progress = { sent: 0, received: 0 };
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, proxy.rssBytes());
        maxInFlight = Math.max(maxInFlight, progress.sent - progress.received);
      }, 20);
      const began = Date.now();
      try {
        const [received] = await withTimeout(
          Promise.all([readSlowly(server, SLOW_READER_BYTES_PER_SECOND, progress), writeFast(client, GIB, progress)]),
          60000,
          '1 GiB through a slow reader',
        );
        assert.equal(received, GIB);
      } finally {
        clearInterval(sampler);
      }
      server.end();
      const seconds = (Date.now() - began) / 1000;
      const growth = peakRss - baselineRss;
      const inFlightBound = maxInFlightBytes();
      t.diagnostic(`1 GiB in ${seconds.toFixed(1)} s; proxy RSS ${(baselineRss / MIB).toFixed(1)} MiB, grew ${(growth / MIB).toFixed(1)} MiB; ` +
        `at most ${(maxInFlight / MIB).toFixed(1)} MiB written but unread (kernel buffers allow ${(inFlightBound / MIB).toFixed(0)})`);
      assert.ok(growth < MAX_PROXY_RSS_GROWTH_BYTES, `the proxy's RSS grew ${(growth / MIB).toFixed(1)} MiB`);
      assert.ok(maxInFlight < inFlightBound, `${(maxInFlight / MIB).toFixed(1)} MiB in flight: the writer was not held back`);
      const record = JSON.parse(await proxy.waitForLine('stdout', new RegExp(`"toUpstream":${GIB}`)));
      assert.equal(record.method, mode === 'kernel' ? 'splice' : 'copy');
      assert.equal(await proxy.stop(), 0);
    });

    it('answers 100-byte request/response ping-pong without delay (median under 5 ms per round trip)', async (t) => {
      const echo = await startEchoUpstream();
      cleanup.push(() => echo.close());
      const started = await startProxy({ upstream: `127.0.0.1:${echo.port}`, method });
      cleanup.push(() => started.close());
      const rounds = 300;
      const direct = await connectClient(echo.port);
      const proxied = await connectClient(started.port);
      cleanup.push(() => direct.destroy(), () => proxied.destroy());
      // Warm both paths (JIT, pipes from the pool) before timing.
      await pingPong(direct, 20, 100);
      await pingPong(proxied, 20, 100);
      const directTimes = summarize(await withTimeout(pingPong(direct, rounds, 100), 30000, 'direct ping-pong'));
      const proxiedTimes = summarize(await withTimeout(pingPong(proxied, rounds, 100), 30000, 'proxied ping-pong'));
      const line = `100-byte ping-pong, ${rounds} rounds: direct median ${directTimes.median.toFixed(3)} ms ` +
        `(p99 ${directTimes.p99.toFixed(3)}), through the proxy median ${proxiedTimes.median.toFixed(3)} ms (p99 ${proxiedTimes.p99.toFixed(3)})`;
      t.diagnostic(line);
      // A Nagle or SPLICE_F_MORE stall would show up as ~40–200 ms per round.
      assert.ok(proxiedTimes.median < 5, line);
    });

    it('leaves no fd open after 1,000 short connections, a quarter reset mid-stream by either side', async () => {
      // Upstream: echoes, except it resets a connection whose first byte is 'R'.
      const upstream = await startUpstream((socket) => {
        socket.once('data', (first: Buffer) => {
          if (first[0] === 0x52) {
            socket.resetAndDestroy();
            return;
          }
          socket.write(first);
          socket.pipe(socket);
        });
      });
      cleanup.push(() => upstream.close());
      const started = await startProxy({ upstream: `127.0.0.1:${upstream.port}`, method });
      cleanup.push(() => started.close());
      const pool = sharedPipePool();
      pool.drain(); // idle pooled pipes are not leaks: count without them
      const baseline = openFdCount();

      const total = 1000;
      const concurrency = 16;
      let next = 0;
      const one = async (i: number) => {
        const client = await connectClient(started.port);
        const kind = i % 8;
        if (kind === 0) {
          // Client resets after its bytes went through.
          const echoed = new Promise((resolve) => client.once('data', resolve));
          client.write('hello from a client that resets');
          await withTimeout(echoed, 5000, `echo ${i}`);
          client.resetAndDestroy();
        } else if (kind === 1) {
          // Upstream resets mid-stream.
          client.write('Reset me');
          await withTimeout(closedWithin(client), 5000, `reset ${i}`);
        } else {
          const answer = collect(client);
          client.end(`message ${i}`);
          const got = await withTimeout(answer, 5000, `answer ${i}`);
          assert.equal(got.bytes, `message ${i}`.length);
          client.destroy();
        }
      };
      await withTimeout(
        Promise.all(Array.from({ length: concurrency }, async () => {
          while (next < total) await one(next++);
        })),
        120000,
        '1,000 connections',
      );
      await withTimeout((async () => {
        while (started.records.filter((r) => r.event === 'connection').length < total) await new Promise((r) => setTimeout(r, 20));
      })(), 10000, 'every connection logged');
      const outcomes = new Map<string, number>();
      for (const record of started.records) if (record.event === 'connection') outcomes.set(record.outcome, (outcomes.get(record.outcome) ?? 0) + 1);
      assert.equal(started.proxy.connections, 0);
      assert.ok((outcomes.get('reset') ?? 0) >= total / 8, `resets logged: ${JSON.stringify([...outcomes])}`);
      pool.drain();
      await assertNoFdLeak(baseline);
      assert.equal(pool.size, 0, 'every pipe lent out came back');
    });
  });
}

describe('proxy pipe pool', () => {
  let echo: Upstream;
  before(async () => {
    echo = await startEchoUpstream();
  });
  after(() => echo.close());

  it('copies when the pool has no pipe left, says so in the log record, and splices again once pipes return', async () => {
    // Two pipes: exactly one splicing connection (a pipe per direction).
    const pipePool = new PipePool({ maxPipes: 2 });
    const copiedBefore = metrics().relays.copiedForLackOfPipes;
    const started = await startProxy({ upstream: `127.0.0.1:${echo.port}`, pipePool });
    try {
      const holder = await connectClient(started.port);
      const held = new Promise((resolve) => holder.once('data', resolve));
      holder.write('holding both pipes');
      await withTimeout(held, 5000, 'holder echo');

      const starved = await connectClient(started.port);
      const answer = collect(starved, { keep: true });
      const body = Buffer.alloc(4 * MIB, 3);
      starved.end(body);
      const got = await withTimeout(answer, 10000, 'starved echo');
      assert.ok(got.data!.equals(body), 'the copying connection is byte-exact');
      const record = asConnection(await started.nextRecord('connection'));
      assert.equal(record.method, 'copy');
      assert.equal(record.copyReason, 'no-pipe');
      assert.match(formatRecordText(record), /method=copy copy_reason=no-pipe/);
      assert.equal(metrics().relays.copiedForLackOfPipes, copiedBefore + 1, 'process metrics count it too');

      holder.end();
      assert.equal(asConnection(await started.nextRecord('connection')).method, 'splice');
      const later = await connectClient(started.port);
      const laterAnswer = collect(later);
      later.end('pipes are back');
      await withTimeout(laterAnswer, 5000, 'later echo');
      const laterRecord = asConnection(await started.nextRecord('connection'));
      assert.equal(laterRecord.method, 'splice');
      assert.equal(laterRecord.copyReason, undefined);
    } finally {
      await started.close();
      pipePool.drain();
    }
  });
});
