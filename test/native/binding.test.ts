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
    const made = native!.pipe(1 << 20);
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
    assert.equal(native!.sendfileOnce(-1, -1, 0, 1), errnoOf('EBADF'));
    assert.equal(native!.setCork(0, 1) < 0, true);
  });

  it('corks a TCP socket', async () => {
    const pair = await connectPair();
    const fd = (pair.server as any)._handle.fd as number;
    assert.equal(native!.setCork(fd, 1), 0);
    assert.equal(native!.setCork(fd, 0), 0);
    pair.close();
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
    assert.throws(() => native!.sendfileOnce('1' as never, 0, 0, 0), TypeError);
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
