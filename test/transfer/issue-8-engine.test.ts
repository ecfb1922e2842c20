/**
 * Issue 8: the transfer engine's own promises — one connection's bytes never
 * reach another, no busy spin, fallbacks that work after a head, no fd leaks.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';

import { PipePool, copyFileRange, metrics, sendFile, splice, tee, TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/index.js';
import { getNative, isUnsupportedErrno } from '../../src/native/capabilities.js';
import { errnoOf } from '../../src/native/errno.js';
import { headFlags } from '../../src/transfer/run.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../helpers/fixtures.js';
import { collect, connectPair } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';

const MIB = 1 << 20;
const native = getNative();

/** Drops a file's clean pages from the page cache, so its next read goes to the disk. */
function evict(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    assert.equal(native!.testing.fadvise(fd, 0, 0, native!.constants.POSIX_FADV_DONTNEED), 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** Transfer-end messages published while `body` runs. */
async function recordTransfers<T>(body: () => Promise<T>): Promise<{ result: T; ends: TransferEndMessage[] }> {
  const ends: TransferEndMessage[] = [];
  const listener = (m: unknown) => ends.push(m as TransferEndMessage);
  diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
  try {
    return { result: await body(), ends };
  } finally {
    diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
  }
}

/** CPU seconds this process spends while `body` runs. */
async function cpuSecondsDuring(body: () => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  await body();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('issue 8: the transfer engine', { skip: native ? false : 'the addon is not built on this platform' }, () => {
  const tmp = makeTempDir();
  let cold: Fixture;
  let other: Fixture;
  before(() => {
    cold = makeRandomFile(tmp.dir, 'cold', 16 * MIB);
    other = makeRandomFile(tmp.dir, 'other', 1 * MIB);
    // Written pages are dirty; only clean pages can be dropped.
    for (const f of [cold, other]) {
      const fd = fs.openSync(f.path, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
  });
  after(() => tmp.remove());

  describe('a transfer canceled while its cold read runs on the threadpool', () => {
    it('never hands its bytes to the next transfer on the pooled pipe (200 rounds, byte-exact)', async () => {
      const pool = new PipePool({ maxPipes: 1 });
      let offloaded = 0;
      try {
        for (let round = 0; round < 200; round++) {
          evict(cold.path);
          const first = await connectPair();
          first.client.resume();
          const fd = fs.openSync(cold.path, 'r');
          const abort = new AbortController();
          const { ends } = await recordTransfers(async () => {
            const canceled = splice(fd, first.server, { length: 64 * 1024, signal: abort.signal, pipePool: pool });
            // The job starts (and its cold read goes to the threadpool) in the microtasks
            // after the call; this runs after them, while the disk read is under way.
            setImmediate(() => abort.abort());
            await canceled.then(() => undefined, () => undefined);
          });
          offloaded += ends.reduce((sum, e) => sum + e.offloads, 0);
          fs.closeSync(fd);
          first.close();

          const second = await connectPair();
          const received = collect(second.client);
          const result = await splice(fs.openSync(other.path, 'r'), second.server, { pipePool: pool });
          second.server.end();
          const got = await received;
          second.close();
          assert.equal(result.method, 'splice');
          assert.equal(got.bytes, other.size, `round ${round}: the next client got exactly its file`);
          assert.equal(got.sha256, other.sha256, `round ${round}: and nothing of the canceled transfer`);

          const pipe = pool.acquire()!;
          assert.equal(native!.pipeBytes(pipe.readFd), 0, `round ${round}: a pooled pipe is empty`);
          pool.release(pipe, 0);
        }
      } finally {
        pool.drain();
      }
      assert.ok(offloaded > 20, `the cancel raced a threadpool read in enough rounds (${offloaded})`);
    });

    it('reports every byte an offloaded sendfile step delivered in bytesWritten', async () => {
      {
        let checked = 0;
        for (let round = 0; round < 20; round++) {
          evict(cold.path);
          const pair = await connectPair();
          const received = collect(pair.client);
          const abort = new AbortController();
          const transfer = sendFile(pair.server, cold.path, { signal: abort.signal }).then(() => undefined, (e) => e);
          setImmediate(() => abort.abort());
          const error = await transfer;
          pair.server.end();
          const got = await received;
          pair.close();
          if (error?.code !== 'ABORT_ERR') continue;
          assert.equal(error.bytesWritten, got.bytes, `round ${round}: bytesWritten is what the client received`);
          checked++;
        }
        assert.ok(checked > 0, 'some transfer was aborted mid-way');
      }
    });

    it('closes a pipe the kernel says is not empty, even when the caller counted 0', () => {
      const pool = new PipePool({ maxPipes: 1 });
      const pipe = pool.acquire()!;
      fs.writeSync(pipe.writeFd, Buffer.from('left over'));
      const before = metrics().pipes.destroyedWithData;
      pool.release(pipe, 0);
      assert.equal(metrics().pipes.destroyedWithData, before + 1);
      assert.equal(pool.size, 0, 'not kept for reuse');
    });
  });

  describe('waiting on the side that blocked (no busy spin)', () => {
    it('sendFile from a pipe to a stalled reader parks instead of spinning', async () => {
      const fifo = path.join(tmp.dir, 'fifo');
      spawnSync('mkfifo', [fifo]);
      const size = 24 * MIB;
      const source = makeRandomFile(tmp.dir, 'through-fifo', size);
      const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      // A FIFO without any writer reads as EOF: hold one until `cat` has opened it.
      const heldWriter = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      const writer = spawn('sh', ['-c', `cat "${source.path}" > "${fifo}"`], { stdio: 'ignore' });
      const pair = await connectPair();
      pair.client.pause(); // the reader stalls: the socket fills, the pipe stays readable
      try {
        const { result, ends } = await recordTransfers(async () => {
          const transfer = sendFile(pair.server, fd, { length: size });
          await sleep(200); // buffers fill
          const stalledCpu = await cpuSecondsDuring(() => sleep(1000));
          const received = collect(pair.client);
          pair.client.resume();
          const sent = await withTimeout(transfer, 20000, 'the transfer');
          pair.server.end();
          return { sent, got: await received, stalledCpu };
        });
        assert.equal(result.sent.method, 'splice');
        assert.equal(result.got.sha256, source.sha256);
        assert.ok(result.stalledCpu < 0.3, `CPU while the reader stalled: ${result.stalledCpu.toFixed(3)} s`);
        const syscalls = ends.at(-1)!.syscalls;
        assert.ok(syscalls < 20000, `${syscalls} syscalls for ${size / MIB} MiB (a spin makes hundreds of thousands)`);
      } finally {
        fs.closeSync(fd);
        fs.closeSync(heldWriter);
        writer.kill();
        pair.close();
      }
    });

    it('tee waits for room in a full destination pipe without spinning', async () => {
      const [inRead, inWrite] = native!.testing.pipe(0) as [number, number, number];
      const [outRead, outWrite] = native!.testing.pipe(0) as [number, number, number];
      try {
        const filler = Buffer.alloc(4096, 1);
        let filled = 0;
        for (;;) {
          try {
            filled += fs.writeSync(outWrite, filler);
          } catch {
            break; // EAGAIN: full
          }
        }
        fs.writeSync(inWrite, Buffer.from('duplicate me'));
        const { result, ends } = await recordTransfers(async () => {
          const duplicated = tee(inRead, outWrite);
          const stalledCpu = await cpuSecondsDuring(() => sleep(500));
          const drain = Buffer.alloc(filled);
          let drained = 0;
          while (drained < filled) drained += fs.readSync(outRead, drain, 0, filled - drained, null);
          return { teed: await withTimeout(duplicated, 5000, 'tee'), stalledCpu };
        });
        assert.equal(result.teed.bytes, 12);
        assert.ok(result.stalledCpu < 0.2, `CPU while the destination was full: ${result.stalledCpu.toFixed(3)} s`);
        assert.ok(ends.at(-1)!.syscalls < 50, `${ends.at(-1)!.syscalls} syscalls for one tee`);
      } finally {
        [inRead, inWrite, outRead, outWrite].forEach((f) => fs.closeSync(f));
      }
    });
  });

  describe('falling back to copying after a head was sent', () => {
    it('sends prefix + body by copy when sendfile refuses the file (EINVAL)', async () => {
      // /proc/self/cmdline has no mmap-like reads: sendfile answers EINVAL.
      const expected = fs.readFileSync('/proc/self/cmdline');
      const prefix = Buffer.from('HEAD\r\n\r\n');
      const pair = await connectPair();
      const received = collect(pair.client, { keep: true });
      const result = await sendFile(pair.server, '/proc/self/cmdline', { prefix });
      pair.server.end();
      const got = await received;
      pair.close();
      assert.equal(result.method, 'copy');
      assert.equal(result.bytes, expected.length);
      assert.deepEqual(got.data, Buffer.concat([prefix, expected]));
    });

    it('also with a known length', async () => {
      const expected = fs.readFileSync('/proc/self/cmdline');
      const prefix = Buffer.alloc(100_000, 'h'); // more than one send may take
      const pair = await connectPair();
      const received = collect(pair.client, { keep: true });
      const result = await sendFile(pair.server, '/proc/self/cmdline', { prefix, length: expected.length });
      pair.server.end();
      const got = await received;
      pair.close();
      assert.equal(result.method, 'copy');
      assert.equal(sha256(got.data!), sha256(Buffer.concat([prefix, expected])));
    });
  });

  describe('falling back after the kernel path took bytes from the source (found with issue 15)', () => {
    it('splice from a socket into an O_APPEND file delivers every byte by copy', async () => {
      const pair = await connectPair({ pauseOnConnect: true });
      const data = crypto.randomBytes(200_000);
      pair.client.end(data);
      const target = path.join(tmp.dir, 'appended');
      fs.writeFileSync(target, 'before|');
      const fd = fs.openSync(target, 'a');
      try {
        const result = await splice(pair.server, fd);
        assert.equal(result.method, 'copy');
        assert.equal(result.bytes, data.length);
      } finally {
        fs.closeSync(fd);
        pair.close();
      }
      assert.deepEqual(fs.readFileSync(target), Buffer.concat([Buffer.from('before|'), data]));
    });

    it('splice from a file at an offset into an O_APPEND file continues after the bytes already taken', async () => {
      const target = path.join(tmp.dir, 'appended-range');
      fs.writeFileSync(target, '');
      const out = fs.openSync(target, 'a');
      const source = fs.openSync(other.path, 'r');
      try {
        const result = await splice(source, out, { offset: 1000, length: 300_000 });
        assert.equal(result.method, 'copy');
        assert.equal(result.bytes, 300_000);
      } finally {
        fs.closeSync(out);
        fs.closeSync(source);
      }
      assert.deepEqual(fs.readFileSync(target), fs.readFileSync(other.path).subarray(1000, 301_000));
    });
  });

  describe('file descriptors', () => {
    it('closes the pipes of a worker thread\'s pool when the worker exits', async () => {
      const baseline = openFdCount();
      const script = `
        const { workerData, parentPort } = require('node:worker_threads');
        import(workerData.index).then(async ({ splice }) => {
          const net = require('node:net');
          const { once } = require('node:events');
          const listener = net.createServer({ pauseOnConnect: true }).listen(0, '127.0.0.1');
          await once(listener, 'listening');
          const port = listener.address().port;
          const a = net.connect(port, '127.0.0.1');
          const [[inbound]] = await Promise.all([once(listener, 'connection'), once(a, 'connect')]);
          const sink = net.createServer((s) => s.resume()).listen(0, '127.0.0.1');
          await once(sink, 'listening');
          const b = net.connect(sink.address().port, '127.0.0.1');
          await once(b, 'connect');
          a.end('through a pipe');
          const result = await splice(inbound, b);
          parentPort.postMessage(result.method);
          for (const s of [a, b, inbound]) s.destroy();
          listener.close();
          sink.close();
        });`;
      const index = new URL('../../src/index.js', import.meta.url).href;
      for (let i = 0; i < 5; i++) {
        const worker = new Worker(script, { eval: true, workerData: { index } });
        const [method] = await Promise.all([
          new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject)),
          new Promise((resolve) => worker.once('exit', resolve)),
        ]);
        assert.equal(method, 'splice');
      }
      await assertNoFdLeak(baseline);
    });
  });

  describe('copyFileRange on the caller\'s FileHandles', () => {
    it('keeps copying into the original file when the caller closes its handle mid-copy', async () => {
      const big = makeRandomFile(tmp.dir, 'copy-source', 96 * MIB);
      const destination = path.join(tmp.dir, 'copy-destination');
      const bystander = path.join(tmp.dir, 'bystander');
      const handle = await fs.promises.open(destination, 'w');
      let reopened: number | undefined;
      const result = await copyFileRange(big.path, handle, {
        onProgress: () => {
          if (reopened !== undefined) return;
          const fd = handle.fd;
          fs.closeSync(fd); // behind the FileHandle's back, like a careless caller
          reopened = fs.openSync(bystander, 'w'); // the lowest free number: the one just closed
          assert.equal(reopened, fd, 'the bystander got the recycled fd number');
        },
      });
      fs.closeSync(reopened!);
      await handle.close().catch(() => {}); // its fd is already gone
      assert.equal(result.bytes, big.size);
      assert.equal(fs.statSync(bystander).size, 0, 'nothing landed in the file that reused the number');
      assert.equal(sha256(fs.readFileSync(destination)), big.sha256, 'the destination got every byte');
    });
  });

  describe('policy decided in TypeScript', () => {
    it('sends a head with MSG_MORE only when body bytes are known to follow', () => {
      const head = Buffer.from('head');
      assert.equal(headFlags(native!, head, undefined), 0, 'unknown length: the head must leave at once');
      assert.equal(headFlags(native!, head, 0), 0, 'empty body');
      assert.equal(headFlags(native!, head, 10), native!.constants.HEAD_MORE);
      assert.equal(headFlags(native!, undefined, 10), 0);
    });

    it('does not hold a head back when the body turns out empty', async () => {
      const empty = path.join(tmp.dir, 'empty');
      fs.writeFileSync(empty, '');
      let fastest = Infinity;
      for (let attempt = 0; attempt < 3; attempt++) {
        const pair = await connectPair();
        const arrived = new Promise<number>((resolve) => pair.client.once('data', () => resolve(performance.now())));
        await sendFile(pair.server, empty, { prefix: Buffer.from('HTTP/1.1 200 OK\r\n\r\n') });
        const sentAt = performance.now();
        fastest = Math.min(fastest, (await withTimeout(arrived, 2000, 'the head')) - sentAt);
        pair.close();
      }
      // A head held by MSG_MORE waits for the kernel's ~200 ms cork timer.
      assert.ok(fastest < 100, `the head arrived ${fastest.toFixed(1)} ms after the transfer resolved`);
    });

    it('classifies unsupported errnos per syscall', () => {
      assert.equal(isUnsupportedErrno('sendfile', errnoOf('EINVAL')), true);
      assert.equal(isUnsupportedErrno('copy_file_range', errnoOf('EXDEV')), true);
      assert.equal(isUnsupportedErrno('sendfile', errnoOf('EXDEV')), false, 'sendfile never means "other device" by EXDEV');
      assert.equal(isUnsupportedErrno('splice', errnoOf('EPIPE')), false);
      assert.equal(isUnsupportedErrno('send', errnoOf('EINVAL')), false, 'only kernel-path syscalls fall back');
    });

    it('keeps the synchronous single-call bindings off the production object', () => {
      for (const name of ['sendfileOnce', 'spliceOnce', 'teeOnce', 'copyFileRangeOnce', 'fadvise', 'cachedBytes', 'pipe']) {
        assert.equal(name in native!, false, `${name} is not on the binding`);
        assert.equal(typeof (native!.testing as unknown as Record<string, unknown>)[name], 'function');
      }
    });
  });

  describe('AbortSignal', () => {
    it('aborts a transfer still waiting for Node to flush its own writes', async () => {
      const pair = await connectPair();
      pair.client.pause();
      const chunk = Buffer.alloc(MIB);
      while (pair.server.write(chunk)); // Node's queue stays non-empty: the peer does not read
      const abort = new AbortController();
      const transfer = sendFile(pair.server, other.path, { signal: abort.signal }).then(() => undefined, (e) => e);
      await sleep(50);
      abort.abort();
      const error = await withTimeout(transfer, 2000, 'the aborted transfer');
      assert.equal(error?.code, 'ABORT_ERR');
      pair.close();
    });

    it('aborts a transfer still waiting for its socket to connect', async (t) => {
      // A listener that never accepts: once its queue is full, the kernel drops
      // further SYNs and a new client stays connecting.
      const holder = spawn('python3', ['-c', [
        'import socket, sys',
        's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
        'print(s.getsockname()[1], flush=True); sys.stdin.read()',
      ].join('\n')], { stdio: ['pipe', 'pipe', 'ignore'] });
      const port = Number(await new Promise<string>((resolve) => holder.stdout.once('data', (d) => resolve(String(d)))));
      const queued: net.Socket[] = [];
      try {
        let socket: net.Socket | undefined;
        for (let i = 0; i < 8 && socket === undefined; i++) {
          const client = net.connect(port, '127.0.0.1').on('error', () => {});
          queued.push(client);
          await sleep(50);
          if (client.connecting) socket = client;
        }
        if (socket === undefined) {
          t.skip('the kernel kept accepting into a backlog of 0');
          return;
        }
        const abort = new AbortController();
        const transfer = sendFile(socket, other.path, { signal: abort.signal }).then(() => undefined, (e) => e);
        await sleep(50);
        abort.abort();
        const error = await withTimeout(transfer, 2000, 'the aborted transfer');
        assert.equal(error?.code, 'ABORT_ERR');
      } finally {
        queued.forEach((s) => s.destroy());
        holder.kill();
      }
    });
  });
});
