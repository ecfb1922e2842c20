import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { metrics, sendFile, TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/index.js';
import { getNative } from '../../src/native/capabilities.js';
import { socketFd } from '../../src/transfer/endpoint.js';
import { startNativeJob } from '../../src/transfer/native-job.js';
import { endpointFlags } from '../../src/transfer/run.js';
import { makeRandomFile, makeTempDir, type Fixture } from '../helpers/fixtures.js';
import { collect, connectPair, listenLoopback, type Received, type SocketPair } from '../helpers/net.js';
import { assertNoFdLeak, measureLoopDelay, openFdCount, withTimeout } from '../helpers/process.js';

const MIB = 1 << 20;
const MAX_CONNECTIONS_TO_REUSE_FD = 16;

/**
 * Opens loopback connections until one of their sockets got `fd` (the kernel
 * hands out the lowest free number), and counts every byte any of them
 * receives: nothing writes to them, so any byte is a stray write.
 */
async function connectUntilFdReused(listener: net.Server, fd: number) {
  const pairs: SocketPair[] = [];
  const received: Promise<Received>[] = [];
  let reused = false;
  while (!reused && pairs.length < MAX_CONNECTIONS_TO_REUSE_FD) {
    const pair = await connectPair({ listener });
    pairs.push(pair);
    received.push(collect(pair.client), collect(pair.server));
    reused = socketFd(pair.client) === fd || socketFd(pair.server) === fd;
  }
  assert.ok(reused, `no new socket got fd ${fd}`);
  return {
    strayBytes: Promise.all(received).then((all) => all.reduce((sum, r) => sum + r.bytes, 0)),
    close: () => pairs.forEach((p) => p.close()),
  };
}
/**
 * A loop blocked by the transfer itself stalls for the whole send (hundreds
 * of ms to seconds for 256 MiB); a loop sharing 2 cores with other work sees
 * tens of ms of scheduling noise. 250 ms tells the two apart without racing
 * the machine's load.
 */
const LOOP_DELAY_P99_LIMIT_MS = 250;

describe('sendFile under pressure', () => {
  const tmp = makeTempDir();
  let big: Fixture;
  before(() => {
    big = makeRandomFile(tmp.dir, 'big', 256 * MIB);
    getNative(); // its epoll fd and eventfd are not a leak: load them before counting
  });
  after(() => tmp.remove());

  it('keeps the event loop responsive while a slow reader takes 256 MiB', async () => {
    const pair = await connectPair();
    const received = collect(pair.client, { bytesPerSecond: 150 * MIB });
    const delay = measureLoopDelay();
    const result = await sendFile(pair.server, big.path);
    pair.server.end();
    const got = await received;
    const { p99, max } = delay.stop();
    pair.close();
    assert.equal(result.bytes, big.size);
    assert.equal(got.sha256, big.sha256);
    assert.ok(p99 < LOOP_DELAY_P99_LIMIT_MS, `event-loop delay p99 ${p99.toFixed(1)} ms (max ${max.toFixed(1)} ms)`);
  });

  it('keeps the event loop responsive for a cold (evicted) 256 MiB file and sends it intact', async () => {
    const native = getNative()!;
    const fd = fs.openSync(big.path, 'r');
    fs.fsyncSync(fd);
    // Clean pages of a file can be dropped by anyone who can read it.
    assert.equal(native.testing.fadvise(fd, 0, 0, native.constants.POSIX_FADV_DONTNEED), 0);
    const cached = native.testing.cachedBytes(fd, 0, big.size);
    fs.closeSync(fd);
    assert.ok(cached < big.size / 4, `file still ${cached} bytes cached after DONTNEED`);

    const messages: TransferEndMessage[] = [];
    const listener = (m: unknown) => messages.push(m as TransferEndMessage);
    diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
    const pair = await connectPair();
    const received = collect(pair.client);
    const delay = measureLoopDelay();
    const result = await sendFile(pair.server, big.path);
    pair.server.end();
    const got = await received;
    const { p99, max } = delay.stop();
    diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
    pair.close();
    assert.equal(result.method, 'sendfile');
    assert.equal(got.sha256, big.sha256);
    assert.ok(messages.at(-1)!.offloads > 0, 'cold steps ran on the threadpool');
    assert.ok(p99 < LOOP_DELAY_P99_LIMIT_MS, `event-loop delay p99 ${p99.toFixed(1)} ms (max ${max.toFixed(1)} ms)`);
  });

  it('sees a cold stretch between cached ones (cachestat) and reads that step on the threadpool', async (t) => {
    const [major = 0, minor = 0] = os.release().split('.').map(Number);
    if (major < 6 || (major === 6 && minor < 5)) {
      t.skip(`cachestat(2) needs Linux 6.5+, this is ${os.release()}; the sampled fallback may miss such a stretch`);
      return;
    }
    const native = getNative()!;
    const patchy = makeRandomFile(tmp.dir, 'patchy', 8 * MIB);
    // A 256 KiB hole away from every 1 MiB boundary, where the sampling
    // fallback probes: only an exact count of the pages sees it.
    const hole = { start: 3 * MIB + 256 * 1024, length: 256 * 1024 };
    const fd = fs.openSync(patchy.path, 'r');
    try {
      fs.fsyncSync(fd);
      assert.equal(native.testing.fadvise(fd, 0, 0, native.constants.POSIX_FADV_DONTNEED), 0);
      assert.equal(native.testing.fadvise(fd, 0, 0, native.constants.POSIX_FADV_RANDOM), 0); // no readahead into the hole
      const chunk = Buffer.alloc(hole.length);
      for (let at = 0; at < patchy.size; at += chunk.length) {
        if (at !== hole.start) fs.readSync(fd, chunk, 0, chunk.length, at);
      }
      const inHole = native.testing.cachedBytes(fd, hole.start, hole.length);
      const elsewhere = native.testing.cachedBytes(fd, 0, patchy.size) - inHole;
      if (inHole !== 0 || elsewhere !== patchy.size - hole.length) {
        t.skip(`could not shape the page cache here (${inHole} bytes cached in the hole, ${elsewhere} elsewhere)`);
        return;
      }
    } finally {
      fs.closeSync(fd);
    }

    const messages: TransferEndMessage[] = [];
    const listener = (m: unknown) => messages.push(m as TransferEndMessage);
    diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
    const pair = await connectPair();
    const received = collect(pair.client);
    const result = await sendFile(pair.server, patchy.path);
    pair.server.end();
    const got = await received;
    diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
    pair.close();
    assert.equal(result.method, 'sendfile');
    assert.equal(got.sha256, patchy.sha256);
    assert.ok(messages.at(-1)!.offloads > 0, 'the step over the hole ran on the threadpool');
  });

  it('probes the page cache again after waiting for the socket: pages seen cached before the wait may be gone', async (t) => {
    const [major = 0, minor = 0] = os.release().split('.').map(Number);
    if (major < 6 || (major === 6 && minor < 5)) {
      t.skip(`cachestat(2) needs Linux 6.5+, this is ${os.release()}`);
      return;
    }
    const native = getNative()!;
    const file = makeRandomFile(tmp.dir, 'evicted-while-waiting', 16 * MIB);
    const fd = fs.openSync(file.path, 'r');
    const pair = await connectPair();
    try {
      fs.fsyncSync(fd);
      fs.readFileSync(file.path); // all cached
      // One residency window over the whole file: without the re-probe after
      // a wait, nothing would look again before reading the evicted pages.
      const job = startNativeJob(native, {
        mode: native.constants.MODE_SENDFILE,
        srcFd: fd,
        dstFd: -1,
        dstSocket: pair.server,
        srcOffset: 0,
        length: file.size,
        flags: endpointFlags(native, 'file', 'socket'),
        cacheWindow: file.size,
      });
      // The client does not read yet: the job fills the socket and waits.
      let last = -1;
      for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const now = job.progress();
        if (now > 0 && now === last) break;
        last = now;
      }
      assert.ok(last > 0 && last < file.size, `the job waits part-way (${last} bytes sent)`);
      assert.equal(native.testing.fadvise(fd, 0, 0, native.constants.POSIX_FADV_DONTNEED), 0);
      const stillCached = native.testing.cachedBytes(fd, last, file.size - last);
      if (stillCached > MIB) {
        job.cancel();
        await job.done;
        t.skip(`could not evict the unsent part here (${stillCached} bytes still cached)`);
        return;
      }
      const received = collect(pair.client);
      const outcome = await withTimeout(job.done, 15000, 'the job after eviction');
      pair.server.end();
      const got = await received;
      assert.equal(outcome.status, 0);
      assert.equal(got.sha256, file.sha256);
      assert.ok(outcome.waits > 0, 'the job waited for the socket');
      assert.ok(outcome.offloads > 0, 'the read of the evicted pages ran on the threadpool, not on the loop');
    } finally {
      fs.closeSync(fd);
      pair.close();
    }
  });

  it('rejects with EPIPE or ECONNRESET when the client goes away, and leaks no fd', async () => {
    const baseline = openFdCount();
    const pair = await connectPair();
    const received = collect(pair.client, { destroyAfterBytes: 8 * MIB });
    const error = await sendFile(pair.server, big.path).then(() => undefined, (e) => e);
    await received;
    assert.ok(error, 'the transfer must not succeed');
    assert.ok(['EPIPE', 'ECONNRESET'].includes(error.code), `code ${error.code}`);
    assert.equal(error.syscall, 'sendfile');
    assert.ok(error.bytesWritten >= 8 * MIB && error.bytesWritten < big.size, `bytesWritten ${error.bytesWritten}`);
    pair.close();
    await assertNoFdLeak(baseline);
  });

  it('stops when Node destroys the socket mid-transfer (ZC_ERR_SOCKET_CLOSED) and writes nothing to the next socket on that fd', async () => {
    const baseline = openFdCount();
    const pair = await connectPair();
    const oldFd = socketFd(pair.server)!;
    pair.client.pause(); // a stalled reader: the send blocks in epoll
    const transfer = sendFile(pair.server, big.path).then(() => undefined, (e) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const listener = await listenLoopback();
    pair.server.destroy();
    const error = await withTimeout(transfer, 5000, 'the canceled transfer');
    assert.equal(error?.code, 'ZC_ERR_SOCKET_CLOSED');
    assert.ok(error.bytesWritten > 0 && error.bytesWritten < big.size);

    const next = await connectUntilFdReused(listener, oldFd);
    await new Promise((resolve) => setTimeout(resolve, 300));
    next.close();
    assert.equal(await next.strayBytes, 0, 'no byte reached the new connection');
    listener.close();
    pair.close();
    await assertNoFdLeak(baseline);
  });

  it('keeps sending to the original connection through its dup when the fd number is closed and reused', async () => {
    const pair = await connectPair();
    const oldFd = socketFd(pair.server)!;
    const fixture = makeRandomFile(tmp.dir, 'eight', 8 * MIB);
    const received = collect(pair.client, { bytesPerSecond: 40 * MIB });
    // A numeric fd is not watched: only the dup keeps the connection alive.
    const transfer = sendFile(oldFd, fixture.path);
    const listener = await listenLoopback();
    await new Promise((resolve) => setTimeout(resolve, 50));
    pair.server.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    const next = await connectUntilFdReused(listener, oldFd);
    const result = await withTimeout(transfer, 10000, 'the transfer');
    assert.equal(result.bytes, fixture.size);
    const got = await withTimeout(received, 10000, 'the original reader');
    assert.equal(got.sha256, fixture.sha256, 'the original client got the whole file');
    next.close();
    assert.equal(await next.strayBytes, 0, 'nothing landed on the recycled fd');
    listener.close();
    pair.close();
  });

  it('keeps the socket idle timeout from firing while bytes move, and restores it after', async () => {
    const fixture = makeRandomFile(tmp.dir, 'paced', 48 * MIB);
    const pair = await connectPair();
    let timeouts = 0;
    pair.server.setTimeout(300, () => timeouts++);
    const received = collect(pair.client, { bytesPerSecond: 32 * MIB }); // ~1.5 s, five timeouts long
    await sendFile(pair.server, fixture.path);
    pair.server.end();
    assert.equal((await received).sha256, fixture.sha256);
    assert.equal(timeouts, 0, 'no timeout while the kernel was sending');
    assert.equal(pair.server.timeout, 300, 'the timeout is back in place');
    pair.close();
  });

  it('emits the socket timeout when a reader stalls, so the usual handler can close it', async () => {
    const pair = await connectPair();
    pair.client.pause();
    let timeouts = 0;
    pair.server.setTimeout(300, () => {
      timeouts++;
      pair.server.destroy();
    });
    const started = Date.now();
    const error = await withTimeout(sendFile(pair.server, big.path).then(() => undefined, (e) => e), 5000, 'stalled send');
    assert.equal(error?.code, 'ZC_ERR_SOCKET_CLOSED');
    assert.equal(timeouts, 1);
    assert.ok(Date.now() - started < 2000, `closed after ${Date.now() - started} ms`);
    pair.close();
  });

  it('counts bytes, syscalls and fallbacks in metrics()', async () => {
    const before = metrics();
    const pair = await connectPair();
    const received = collect(pair.client);
    await sendFile(pair.server, big.path, { length: 10 * MIB });
    await sendFile(pair.server, '/proc/self/maps');
    pair.server.end();
    await received;
    pair.close();
    const after = metrics();
    assert.equal(after.methods.sendfile.bytes - before.methods.sendfile.bytes, 10 * MIB);
    assert.equal(after.methods.sendfile.transfers - before.methods.sendfile.transfers, 1);
    assert.ok(after.methods.sendfile.syscalls > before.methods.sendfile.syscalls);
    assert.equal(after.methods.copy.transfers - before.methods.copy.transfers, 1);
    const fallbacks = (m: typeof after) => Object.values(m.fallbacks).reduce((a, b) => a + b, 0);
    assert.equal(fallbacks(after) - fallbacks(before), 1);
    assert.equal(after.inFlight, 0);
    assert.equal(after.nativeJobs, 0);
  });

  it('rejects with ZC_ERR_FILE_TRUNCATED when the file shrinks mid-send, without hanging or padding', async () => {
    const victim = makeRandomFile(tmp.dir, 'victim', 64 * MIB);
    const pair = await connectPair();
    const received = collect(pair.client, { bytesPerSecond: 32 * MIB });
    const transfer = sendFile(pair.server, victim.path, { length: victim.size }).then(() => undefined, (e) => e);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await fs.promises.truncate(victim.path, 4 * MIB);
    const error = await withTimeout(transfer, 15000, 'the truncated transfer');
    assert.equal(error?.code, 'ZC_ERR_FILE_TRUNCATED');
    assert.ok(error.bytesWritten < victim.size);
    pair.server.destroy();
    const got = await received;
    assert.ok(got.bytes < victim.size, 'the reader never sees a complete-looking body');
    pair.close();
  });
});

describe('running out of file descriptors', () => {
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'emfile-child.js');
  it('fails with EMFILE from dup and gives back the pipe it had taken', () => {
    const run = spawnSync('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${child}"`], { encoding: 'utf8', timeout: 30000 });
    assert.equal(run.status, 0, run.stderr);
    const seen = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    assert.equal(seen.code, 'EMFILE');
    assert.equal(seen.syscall, 'dup');
    assert.equal(seen.fd, seen.sourceFd, 'the error names the fd whose dup failed (the source, duplicated first)');
    assert.equal(seen.poolSize, 0, 'no pipe left lent out');
    assert.equal(seen.after, seen.before, 'no fd leaked');
  });
});

describe('proof of the kernel path with strace', () => {
  const strace = spawnSync('strace', ['-V']).status === 0;
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'strace-child.js');

  it('shows sendfile(2) and splice(2) moving the bytes', { skip: strace ? false : 'strace is not installed' }, async () => {
    const tmp = makeTempDir();
    try {
      const log = path.join(tmp.dir, 'strace.log');
      const proc = spawn('strace', ['-f', '-e', 'trace=sendfile,splice', '-o', log, process.execPath, child], { stdio: 'pipe' });
      let output = '';
      proc.stdout.on('data', (d) => (output += d));
      proc.stderr.on('data', (d) => (output += d));
      const code = await withTimeout(new Promise<number | null>((resolve) => proc.on('close', resolve)), 30000, 'strace child');
      assert.equal(code, 0, output);
      const trace = fs.readFileSync(log, 'utf8');
      const result = JSON.parse(output.trim().split('\n').at(-1)!);
      assert.equal(result.sendfile.method, 'sendfile');
      assert.equal(result.splice.method, 'splice');
      assert.match(trace, /sendfile\(\d+, \d+, \[\d+\] => \[\d+\], \d+\) = [1-9]\d*/, 'a sendfile call moved bytes');
      assert.match(trace, /splice\(\d+, NULL, \d+, NULL, \d+, SPLICE_F_MOVE\|SPLICE_F_NONBLOCK\) = [1-9]\d*/, 'a splice call moved bytes');
    } finally {
      tmp.remove();
    }
  });
});
