/**
 * sendBuffers (issue 12): user memory to a socket with MSG_ZEROCOPY or
 * io_uring SEND_ZC, over real loopback TCP. Every byte is checked by hash;
 * the kernel's completion reports are checked against what loopback must
 * do (copy at local delivery: every completion flagged copied).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { metrics, sendBuffers, type SendBuffersOptions } from '../../src/index.js';
import { getNative, setNativeForTesting } from '../../src/native/capabilities.js';
import { ioUringSendZcSupport } from '../../src/native/probes.js';
import { startNativeSendJob } from '../../src/transfer/native-job.js';
import { COMPLETION_GRACE_MS, DEFAULT_MIN_ZEROCOPY_BYTES } from '../../src/transfer/send-buffers.js';
import { collect, connectPair } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';
import { runAsNobody } from '../helpers/unprivileged.js';
import { captureTransfers } from '../helpers/transfers.js';

const MIB = 1 << 20;
const native = getNative();
const ioUring = native ? ioUringSendZcSupport(native) : { ok: false, reason: 'the addon is not built' };

function sha256(...parts: ArrayBufferView[]): string {
  const hash = crypto.createHash('sha256');
  for (const p of parts) hash.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return hash.digest('hex');
}

/** `size` bytes that differ at every position (a random block with a counter), quickly even for 256 MiB. */
function patterned(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  const block = crypto.createHash('sha512').update(String(seed)).digest();
  for (let at = 0, n = 0; at < size; at += block.length, n++) {
    block.writeUInt32LE(n, 0);
    block.copy(out, at, 0, Math.min(block.length, size - at));
  }
  return out;
}

async function sendAndCollect(data: Parameters<typeof sendBuffers>[1], options: SendBuffersOptions) {
  const pair = await connectPair();
  const received = collect(pair.client);
  try {
    const result = await sendBuffers(pair.server, data, options);
    pair.server.end();
    return { result, received: await received };
  } finally {
    pair.close();
  }
}


const settle = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error: unknown) => ({ error }));

interface Variant {
  name: string;
  options: SendBuffersOptions;
  method: 'msg_zerocopy' | 'io_uring_send_zc' | 'copy';
  skip: string | false;
  withoutAddon?: boolean;
}

const variants: Variant[] = [
  { name: 'MSG_ZEROCOPY', options: { zerocopy: 'always', backend: 'msg_zerocopy' }, method: 'msg_zerocopy', skip: native ? false : 'no addon' },
  { name: 'io_uring SEND_ZC', options: { zerocopy: 'always', backend: 'io_uring' }, method: 'io_uring_send_zc', skip: ioUring.ok ? false : `io_uring SEND_ZC: ${ioUring.reason}` },
  { name: "zerocopy: 'never'", options: { zerocopy: 'never' }, method: 'copy', skip: native ? false : 'no addon' },
  { name: 'without the addon', options: { zerocopy: 'always' }, method: 'copy', skip: false, withoutAddon: true },
];

describe('sendBuffers', () => {
  let big: Buffer;
  before(() => {
    big = patterned(256 * MIB, 1);
  });

  for (const variant of variants) {
    describe(variant.name, { skip: variant.skip }, () => {
      let restore = () => {};
      before(() => {
        if (variant.withoutAddon) restore = setNativeForTesting(null);
      });
      after(() => restore());

      const checkReport = (result: Awaited<ReturnType<typeof sendBuffers>>, bytes: number) => {
        assert.equal(result.bytes, bytes);
        assert.equal(result.method, variant.method);
        const z = result.zerocopy;
        assert.equal(z.completions, z.sends, 'every zero-copy send completed before the promise resolved');
        if (variant.method === 'copy') {
          assert.deepEqual(z, { sends: 0, completions: 0, copiedBytes: 0, bytes: 0, enobufs: 0 });
          assert.equal(typeof result.reason, 'string', 'a copy says why');
        } else {
          assert.ok(z.sends > 0, 'zero-copy sends happened');
          assert.equal(z.bytes, bytes, "'always': every byte went with zero-copy");
          // Loopback delivers to a local socket, which the kernel must copy
          // (msg_zerocopy.rst, "Loopback"): every completion says so.
          assert.equal(z.copiedBytes, bytes, 'on loopback the kernel reports every zero-copy byte as copied');
          assert.equal(result.reason, undefined);
        }
      };

      it('sends one buffer byte for byte', async () => {
        const data = patterned(MIB + 1, 2);
        const { result, received } = await sendAndCollect(data, variant.options);
        checkReport(result, data.length);
        assert.equal(received.sha256, sha256(data));
      });

      it('sends 64 buffers (Buffers, typed arrays, a DataView) in order as one stream', async () => {
        const parts: ArrayBufferView[] = [];
        for (let i = 0; i < 64; i++) {
          const bytes = patterned(1000 + i * 997, 100 + i);
          if (i % 3 === 1) parts.push(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          else if (i % 3 === 2 && bytes.length % 2 === 0) parts.push(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2));
          else parts.push(bytes);
        }
        const total = parts.reduce((n, p) => n + p.byteLength, 0);
        const { result, received } = await sendAndCollect(parts, variant.options);
        checkReport(result, total);
        assert.equal(received.sha256, sha256(...parts));
      });

      it('sends 256 MiB', async () => {
        const { result, received } = await sendAndCollect(big, variant.options);
        checkReport(result, big.length);
        assert.equal(received.bytes, big.length);
        assert.equal(received.sha256, sha256(big));
      });

      it('sends 100 bytes', async () => {
        const data = patterned(100, 3);
        const { result, received } = await sendAndCollect(data, variant.options);
        checkReport(result, 100);
        assert.equal(received.sha256, sha256(data));
      });

      it('never lets a change made after it resolved reach the receiver', async () => {
        const pair = await connectPair();
        pair.client.pause(); // explicitly paused: collect() does not start the flow
        const received = collect(pair.client, { keep: true });
        try {
          const data = patterned(32 * MIB, 4);
          const original = sha256(data);
          let settled = false;
          const sending = sendBuffers(pair.server, data, variant.options).finally(() => {
            settled = true;
          });
          // 32 MiB cannot fit in the two socket buffers (tcp_rmem + tcp_wmem
          // maxima: 6 + 4 MiB) while nobody reads: the kernel still holds pages.
          await new Promise((resolve) => setTimeout(resolve, 200));
          assert.equal(settled, false, 'it cannot resolve while the kernel still needs the memory');
          pair.client.resume();
          await sending;
          data.fill(0xa5); // the caller reuses its memory at once
          pair.server.end();
          const got = await received;
          assert.equal(got.bytes, 32 * MIB);
          assert.equal(got.sha256, original, 'the receiver got the bytes as they were when sent');
        } finally {
          pair.close();
        }
      });

      it('rejects with ECONNRESET or EPIPE when the peer resets mid-send, and leaks no fd', async () => {
        const baseline = openFdCount();
        const pair = await connectPair();
        pair.server.on('error', () => {});
        pair.client.on('error', () => {});
        let seen = 0;
        pair.client.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen >= 4 * MIB && !pair.client.destroyed) pair.client.resetAndDestroy();
        });
        const outcome = await withTimeout(settle(sendBuffers(pair.server, big.subarray(0, 64 * MIB), variant.options)), 20000, 'sendBuffers');
        const error = (outcome as { error?: NodeJS.ErrnoException & { bytesWritten?: number } }).error;
        assert.ok(error instanceof Error, 'it rejects');
        assert.ok(['ECONNRESET', 'EPIPE'].includes(error.code ?? ''), `code ${error.code} (${error.message})`);
        assert.equal(typeof error.errno, 'number');
        assert.equal(typeof error.syscall, 'string');
        assert.ok(typeof error.bytesWritten === 'number' && error.bytesWritten < 64 * MIB);
        pair.close();
        await assertNoFdLeak(baseline);
      });
    });
  }

  describe('choosing zero-copy', { skip: native ? false : 'no addon' }, () => {
    it(`copies buffers below minBytes in 'auto' (default ${DEFAULT_MIN_ZEROCOPY_BYTES} bytes), and says so when all are`, async () => {
      const small = patterned(DEFAULT_MIN_ZEROCOPY_BYTES - 1, 5);
      const { result, received } = await sendAndCollect(small, {});
      assert.equal(result.method, 'copy');
      assert.match(result.reason ?? '', /below minBytes/);
      assert.equal(received.sha256, sha256(small));

      const large = patterned(DEFAULT_MIN_ZEROCOPY_BYTES, 6);
      const mixed = await sendAndCollect([small, large, small], {});
      assert.equal(mixed.result.method, 'msg_zerocopy');
      assert.equal(mixed.result.zerocopy.bytes, large.length, 'only the buffer of at least minBytes went with zero-copy');
      assert.equal(mixed.received.sha256, sha256(small, large, small));
    });

    it("reports 'copy' for zerocopy: 'never' and counts it in metrics()", async () => {
      const before = metrics().methods.copy.transfers;
      const { result } = await sendAndCollect(patterned(MIB, 7), { zerocopy: 'never' });
      assert.equal(result.method, 'copy');
      assert.equal(result.reason, "zerocopy: 'never'");
      assert.equal(metrics().methods.copy.transfers, before + 1);
    });

    it('publishes the zero-copy path and the kernel report on zerocopy:transfer:end', async () => {
      const capture = captureTransfers();
      try {
        const { result } = await sendAndCollect(patterned(2 * MIB, 8), { zerocopy: 'always' });
        const message = capture.messages.find((m) => m.method === 'msg_zerocopy');
        assert.ok(message, 'a msg_zerocopy transfer was published');
        assert.equal(message.bytes, 2 * MIB);
        assert.equal(message.inFd, -1);
        assert.deepEqual(message.zerocopy, { ...result.zerocopy });
      } finally {
        capture.stop();
      }
    });

    it('falls back to copying, with each reason, on a socket without MSG_ZEROCOPY (a Unix socket)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerocopy-unix-'));
      const listener = net.createServer().listen(path.join(dir, 's'));
      await new Promise((resolve) => listener.once('listening', resolve));
      const client = net.connect(path.join(dir, 's'));
      const [server] = await Promise.all([
        new Promise<net.Socket>((resolve) => listener.once('connection', resolve)),
        new Promise((resolve) => client.once('connect', resolve)),
      ]);
      try {
        const received = collect(client);
        const data = patterned(MIB, 9);
        const result = await sendBuffers(server, data, { zerocopy: 'always' });
        server.end();
        assert.equal(result.method, 'copy');
        assert.match(result.reason ?? '', /msg_zerocopy: this kind of socket has no MSG_ZEROCOPY/);
        if (ioUring.ok) assert.match(result.reason ?? '', /io_uring_send_zc: this kind of socket has no io_uring SEND_ZC/);
        assert.equal((await received).sha256, sha256(data));
      } finally {
        client.destroy();
        server.destroy();
        listener.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a second sendBuffers on a socket that is still sending', async () => {
      const pair = await connectPair();
      const received = collect(pair.client);
      try {
        const first = sendBuffers(pair.server, patterned(8 * MIB, 10), { zerocopy: 'always' });
        await assert.rejects(sendBuffers(pair.server, Buffer.from('x')), { code: 'ZC_ERR_SOCKET_UNUSABLE' });
        await first;
        await sendBuffers(pair.server, Buffer.from('after'));
        pair.server.end();
        assert.equal((await received).bytes, 8 * MIB + 5);
      } finally {
        pair.close();
      }
    });

    it('validates its arguments before touching the socket', async () => {
      const pair = await connectPair();
      try {
        await assert.rejects(sendBuffers({} as net.Socket, Buffer.alloc(1)), { code: 'ZC_ERR_INVALID_ARG', name: 'TypeError' });
        await assert.rejects(sendBuffers(pair.server, 'text' as unknown as Buffer), { code: 'ZC_ERR_INVALID_ARG' });
        await assert.rejects(sendBuffers(pair.server, [Buffer.alloc(1), 5 as unknown as Buffer]), /"data\[1\]"/);
        await assert.rejects(sendBuffers(pair.server, Buffer.alloc(1), { zerocopy: 'yes' as 'auto' }), { code: 'ZC_ERR_INVALID_ARG' });
        await assert.rejects(sendBuffers(pair.server, Buffer.alloc(1), { backend: 'uring' as 'io_uring' }), { code: 'ZC_ERR_INVALID_ARG' });
        await assert.rejects(sendBuffers(pair.server, Buffer.alloc(1), { minBytes: -1 }), { code: 'ZC_ERR_OUT_OF_RANGE' });
        await assert.rejects(sendBuffers(pair.server, Buffer.alloc(1), { timeoutMs: 1.5 }), { code: 'ZC_ERR_INVALID_ARG' });
      } finally {
        pair.close();
      }
    });

    it('resolves an empty send with 0 bytes', async () => {
      const { result } = await sendAndCollect([], {});
      assert.equal(result.bytes, 0);
      assert.equal(result.method, 'copy');
      assert.equal(result.reason, 'no bytes to send');
    });
  });

  for (const backend of ['msg_zerocopy', 'io_uring'] as const) {
    const skip = !native ? 'no addon' : backend === 'io_uring' && !ioUring.ok ? ioUring.reason! : false;
    describe(`stopping a ${backend} send the peer does not read`, { skip }, () => {
      it(`an abort waits for the kernel to give the pages back: after ${COMPLETION_GRACE_MS} ms it resets the connection`, async () => {
        const baseline = openFdCount();
        const pair = await connectPair();
        pair.client.pause();
        pair.server.on('error', () => {});
        pair.client.on('error', () => {});
        const capture = captureTransfers();
        try {
          const controller = new AbortController();
          const sending = settle(sendBuffers(pair.server, big.subarray(0, 64 * MIB), { zerocopy: 'always', backend, signal: controller.signal }));
          await new Promise((resolve) => setTimeout(resolve, 200));
          const abortedAt = performance.now();
          controller.abort();
          const outcome = await withTimeout(sending, COMPLETION_GRACE_MS + 10000, 'the aborted send');
          const waited = performance.now() - abortedAt;
          assert.equal((outcome as { error?: { code?: string } }).error?.code, 'ABORT_ERR');
          // Nobody reads, so no completion can come before the reset.
          assert.ok(waited >= COMPLETION_GRACE_MS - 50, `settled ${waited.toFixed(0)} ms after the abort`);
          const message = capture.messages.find((m) => m.error !== undefined);
          assert.ok(message?.zerocopy, 'published with the kernel report');
          assert.ok(message.zerocopy.sends > 0);
          assert.equal(message.zerocopy.completions, message.zerocopy.sends, 'every page came back before it settled');
        } finally {
          capture.stop();
          pair.close();
        }
        await assertNoFdLeak(baseline);
      });

      // The timeout is the guard's, the same for both backends: run it once.
      if (backend === 'msg_zerocopy') it('timeoutMs rejects with ZC_ERR_IDLE_TIMEOUT when nothing moves', async () => {
        const pair = await connectPair();
        pair.client.pause();
        pair.server.on('error', () => {});
        pair.client.on('error', () => {});
        try {
          const outcome = await withTimeout(
            settle(sendBuffers(pair.server, big.subarray(0, 64 * MIB), { zerocopy: 'always', backend, timeoutMs: 300 })),
            COMPLETION_GRACE_MS + 10000,
            'the stalled send',
          );
          const error = (outcome as { error?: { code?: string; bytesWritten?: number } }).error;
          assert.equal(error?.code, 'ZC_ERR_IDLE_TIMEOUT');
          assert.ok((error?.bytesWritten ?? 0) > 0);
        } finally {
          pair.close();
        }
      });
    });
  }

  describe('the kernel report, passed through', { skip: native ? false : 'no addon' }, () => {
    it('counts nothing as copied when the kernel never copied: zero-copy bytes dropped unsent by a reset', async () => {
      // The reader never reads, so its window closes after ~200 KiB. A
      // copying send first leaves bytes waiting in the send queue; the
      // zero-copy sends queue behind them and can never be transmitted (a
      // transmitted one would be copied at local delivery). A reset then
      // frees them, and the kernel reports them complete without a copy.
      const pair = await connectPair();
      pair.client.pause();
      pair.server.on('error', () => {});
      pair.client.on('error', () => {});
      try {
        const c = native!.constants;
        const filler = startNativeSendJob(native!, {
          mode: c.MODE_SEND, socket: pair.server, buffers: [patterned(512 << 10, 12)], zerocopy: Uint8Array.of(0), flags: 0, nextZerocopyId: 0,
        });
        assert.equal((await withTimeout(filler.done, 5000, 'the copying send')).status, 0);
        const job = startNativeSendJob(native!, {
          mode: c.MODE_SEND, socket: pair.server, buffers: [patterned(MIB, 11)], zerocopy: Uint8Array.of(1), flags: c.ENABLE_ZEROCOPY, nextZerocopyId: 0, budget: 64 << 10,
        });
        let last = -1;
        for (let i = 0; i < 100 && job.progress() !== last; i++) {
          last = job.progress();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        job.cancel();
        assert.equal(job.resetConnection(), 0);
        const outcome = await withTimeout(job.done, 10000, 'the reset job');
        const z = outcome.zerocopy;
        assert.equal(outcome.status, c.STATUS_CANCELED);
        assert.ok(z.sends > 1, `${z.sends} zero-copy sends`);
        assert.equal(z.completions, z.sends);
        assert.ok(z.bytes > 0);
        assert.equal(z.copiedBytes, 0, 'no page was copied, and none is reported copied');
        assert.equal(z.nextId, z.sends, 'the next id follows the ones used');
      } finally {
        pair.close();
      }
    });
  });

  describe('under a low RLIMIT_MEMLOCK (as nobody, without CAP_IPC_LOCK)', { skip: native ? false : 'no addon' }, () => {
    const run = (memlockKiB: number, t: { skip(message: string): void }) => {
      const outcome = runAsNobody('enobufs-child', { args: ['16', '300'], memlockKiB });
      if ('skipped' in outcome) {
        t.skip(outcome.skipped);
        return undefined;
      }
      assert.equal(outcome.ran.status, 0, outcome.ran.stderr);
      return JSON.parse(outcome.ran.stdout) as {
        result: { method: string; reason?: string; zerocopy: { sends: number; completions: number; enobufs: number } };
        bytes: number;
        got: number;
        intact: boolean;
      };
    };

    it('0 KiB: every zero-copy write gets ENOBUFS with nothing to wait for, and is copied, with the reason', (t) => {
      const report = run(0, t);
      if (!report) return;
      assert.equal(report.intact, true, 'the receiver got every byte');
      assert.equal(report.result.method, 'msg_zerocopy');
      assert.ok(report.result.zerocopy.enobufs > 0);
      assert.equal(report.result.zerocopy.sends, 0);
      assert.match(report.result.reason ?? '', new RegExp(`ENOBUFS with no completion to wait for: ${report.bytes} bytes copied`));
    });

    it('512 KiB: a write past the limit waits for completions and is retried with zero-copy', (t) => {
      const report = run(512, t);
      if (!report) return;
      assert.equal(report.intact, true, 'the receiver got every byte');
      const z = report.result.zerocopy;
      assert.ok(z.enobufs > 0, 'the limit was hit');
      assert.ok(z.sends > 0);
      assert.equal(z.completions, z.sends);
      assert.equal(report.result.reason, undefined, 'nothing had to be copied');
    });
  });
});
