import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';

import { getNative } from '../../src/native/capabilities.js';
import { createSystemError, errnoOf } from '../../src/native/errno.js';
import { makeRandomFile, makeTempDir } from '../helpers/fixtures.js';
import { connectPair } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';

const native = getNative();

describe('native binding', { skip: native ? false : 'the addon is not built on this platform' }, () => {
  it('creates non-blocking pipes and reports their capacity', () => {
    const made = native!.testing.pipe(1 << 20);
    assert.ok(Array.isArray(made));
    const [readFd, writeFd, capacity] = made;
    try {
      assert.ok(capacity >= 4096);
      assert.throws(() => fs.readSync(readFd, Buffer.alloc(1)), { code: 'EAGAIN' }, 'read end is non-blocking');
    } finally {
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
    }
  });

  it('returns -errno instead of throwing for a failed syscall', () => {
    assert.equal(native!.testing.sendfileOnce(-1, -1, 0, 1), errnoOf('EBADF'));
    assert.equal(native!.setCork(0, 1) < 0, true);
  });

  it('corks a TCP socket', async () => {
    const pair = await connectPair();
    const fd = (pair.server as any)._handle.fd as number;
    assert.equal(native!.setCork(fd, 1), 0);
    assert.equal(native!.setCork(fd, 0), 0);
    pair.close();
  });

  it('performs single non-blocking steps of splice, tee and copy_file_range', () => {
    const tmp = makeTempDir();
    const [inRead, inWrite] = native!.testing.pipe(0) as [number, number, number];
    const [outRead, outWrite] = native!.testing.pipe(0) as [number, number, number];
    try {
      const file = makeRandomFile(tmp.dir, 'steps', 8192);
      const data = fs.readFileSync(file.path);
      const fd = fs.openSync(file.path, 'r');
      const copy = fs.openSync(`${file.path}.copy`, 'w+');
      assert.equal(native!.testing.spliceOnce(fd, 100, inWrite, 1000), 1000, 'file → pipe at an offset');
      assert.equal(native!.testing.teeOnce(inRead, outWrite, 1 << 20), 1000, 'tee duplicates what the pipe holds');
      assert.equal(native!.testing.spliceOnce(inRead, -1, outWrite, 1 << 20), 1000, 'pipe → pipe consumes it');
      const out = Buffer.alloc(4000);
      assert.equal(fs.readSync(outRead, out), 2000);
      assert.deepEqual(out.subarray(0, 2000), Buffer.concat([data.subarray(100, 1100), data.subarray(100, 1100)]));
      assert.equal(native!.testing.teeOnce(inRead, outWrite, 10), errnoOf('EAGAIN'), 'an empty pipe answers EAGAIN, not a wait');
      assert.equal(native!.testing.copyFileRangeOnce(fd, 4096, copy, 0, 4096), 4096);
      assert.deepEqual(fs.readFileSync(`${file.path}.copy`), data.subarray(4096));
      [fd, copy].forEach((f) => fs.closeSync(f));
    } finally {
      [inRead, inWrite, outRead, outWrite].forEach((f) => fs.closeSync(f));
      tmp.remove();
    }
  });

  it('builds Node-style errors from -errno', () => {
    const error = createSystemError(errnoOf('EPIPE'), 'sendfile', { fd: 7, bytesWritten: 3 });
    assert.equal(error.code, 'EPIPE');
    assert.equal(error.errno, -32);
    assert.equal(error.syscall, 'sendfile');
    assert.equal(error.message, 'EPIPE: broken pipe, sendfile');
    assert.equal(error.bytesWritten, 3);
  });

  it('rejects arguments of the wrong type with a TypeError', () => {
    assert.throws(() => native!.testing.sendfileOnce('1' as never, 0, 0, 0), TypeError);
  });

  it('works in a worker thread, which can exit with a transfer pending', async () => {
    const tmp = makeTempDir();
    try {
      const file = makeRandomFile(tmp.dir, 'worker', 4 << 20);
      const index = new URL('../../src/index.js', import.meta.url).href;
      const code = `
        const { parentPort } = require('node:worker_threads');
        const net = require('node:net');
        (async () => {
          const { sendFile } = await import(${JSON.stringify(index)});
          const server = net.createServer(async (socket) => {
            const result = await sendFile(socket, ${JSON.stringify(file.path)});
            parentPort.postMessage(result);
            // A second transfer to a reader that never reads: left pending at exit.
            sendFile(socket, ${JSON.stringify(file.path)}).catch(() => {});
            setTimeout(() => parentPort.postMessage('pending'), 100);
          }).listen(0, '127.0.0.1', () => {
            const client = net.connect(server.address().port, '127.0.0.1');
            let n = 0;
            client.on('data', (d) => { n += d.length; if (n >= ${file.size}) client.pause(); });
          });
        })();`;
      const worker = new Worker(code, { eval: true });
      const messages: unknown[] = [];
      await withTimeout(new Promise<void>((resolve, reject) => {
        worker.on('message', (m) => {
          messages.push(m);
          if (m === 'pending') resolve();
        });
        worker.on('error', reject);
      }), 10000, 'worker');
      assert.deepEqual(messages[0], { bytes: file.size, method: 'sendfile' });
      const exitCode = await withTimeout(worker.terminate(), 10000, 'worker termination');
      assert.equal(exitCode, 1);
    } finally {
      tmp.remove();
    }
  });
});
