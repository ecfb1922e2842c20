import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { sendFile } from '../../src/index.js';
import { setNativeForTesting } from '../../src/native/capabilities.js';
import { socketFd } from '../../src/transfer/endpoint.js';
import { hashFileRange, makeRandomFile, makeTempDir, type Fixture } from '../helpers/fixtures.js';
import { collect, connectPair } from '../helpers/net.js';
import { captureTransfers } from '../helpers/transfers.js';

const SIZES = [0, 1, 4096, (1 << 20) + 1, 256 << 20];

async function sendAndCollect(file: Fixture | string | number, options: Parameters<typeof sendFile>[2] = {}) {
  const pair = await connectPair();
  const received = collect(pair.client);
  try {
    const result = await sendFile(pair.server, typeof file === 'object' ? file.path : file, options);
    pair.server.end();
    return { result, received: await received };
  } finally {
    pair.close();
  }
}


for (const mode of ['kernel', 'forced copy', 'without the addon'] as const) {
  describe(`sendFile (${mode})`, () => {
    const tmp = makeTempDir();
    const fixtures = new Map<number, Fixture>();
    const options = mode === 'forced copy' ? { method: 'copy' as const } : {};
    const expectedMethod = mode === 'kernel' ? 'sendfile' : 'copy';
    let restore = () => {};

    before(() => {
      for (const size of SIZES) fixtures.set(size, makeRandomFile(tmp.dir, `f${size}`, size));
      if (mode === 'without the addon') restore = setNativeForTesting(null);
    });
    after(() => {
      restore();
      tmp.remove();
    });

    for (const size of SIZES) {
      it(`sends a ${size}-byte file byte for byte and reports method '${expectedMethod}'`, async () => {
        const fixture = fixtures.get(size)!;
        const { result, received } = await sendAndCollect(fixture, options);
        assert.deepEqual(result, { bytes: size, method: expectedMethod });
        assert.equal(received.bytes, size);
        assert.equal(received.sha256, fixture.sha256);
      });
    }

    it('sends [offset, offset+length) when both are given', async () => {
      const fixture = fixtures.get((1 << 20) + 1)!;
      const { result, received } = await sendAndCollect(fixture, { ...options, offset: 12345, length: 500000 });
      assert.equal(result.bytes, 500000);
      assert.equal(received.sha256, hashFileRange(fixture.path, 12345, 12345 + 500000));
    });

    it('sends from offset to EOF when only offset is given', async () => {
      const fixture = fixtures.get((1 << 20) + 1)!;
      const { result, received } = await sendAndCollect(fixture, { ...options, offset: 1 << 20 });
      assert.equal(result.bytes, 1);
      assert.equal(received.sha256, hashFileRange(fixture.path, 1 << 20));
    });

    it('leaves the file position alone when an offset is given', async () => {
      const fixture = fixtures.get(4096)!;
      const fd = fs.openSync(fixture.path, 'r');
      try {
        fs.readSync(fd, Buffer.alloc(100), 0, 100, null); // position is now 100
        await sendAndCollect(fd, { ...options, offset: 1000, length: 2000 });
        const next = Buffer.alloc(10);
        fs.readSync(fd, next, 0, 10, null);
        assert.deepEqual(next, fs.readFileSync(fixture.path).subarray(100, 110));
      } finally {
        fs.closeSync(fd);
      }
    });

    it('reads from and advances the file position when no offset is given', async () => {
      const fixture = fixtures.get((1 << 20) + 1)!;
      const fd = fs.openSync(fixture.path, 'r');
      try {
        fs.readSync(fd, Buffer.alloc(10), 0, 10, null); // start at 10
        const first = await sendAndCollect(fd, { ...options, length: 1000 });
        const second = await sendAndCollect(fd, options); // the rest
        assert.equal(first.received.sha256, hashFileRange(fixture.path, 10, 1010));
        assert.equal(second.received.bytes, fixture.size - 1010);
        assert.equal(second.received.sha256, hashFileRange(fixture.path, 1010));
        assert.equal(fs.readSync(fd, Buffer.alloc(1), 0, 1, null), 0, 'position is at EOF');
      } finally {
        fs.closeSync(fd);
      }
    });

    it('accepts a FileHandle and leaves it open', async () => {
      const fixture = fixtures.get(4096)!;
      const handle = await fs.promises.open(fixture.path, 'r');
      try {
        const pair = await connectPair();
        const received = collect(pair.client);
        const result = await sendFile(pair.server, handle, options);
        pair.server.end();
        assert.equal(result.bytes, 4096);
        assert.equal((await received).sha256, fixture.sha256);
        assert.equal((await handle.stat()).size, 4096, 'the handle is still usable');
      } finally {
        await handle.close();
      }
    });

    it('writes the prefix before the body', async () => {
      const fixture = fixtures.get(4096)!;
      const prefix = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n');
      const pair = await connectPair();
      const received = collect(pair.client, { keep: true });
      await sendFile(pair.server, fixture.path, { ...options, prefix });
      pair.server.end();
      const { data } = await received;
      pair.close();
      assert.deepEqual(data, Buffer.concat([prefix, fs.readFileSync(fixture.path)]));
    });

    it('rejects with ZC_ERR_FILE_TRUNCATED when the file is shorter than length', async () => {
      const fixture = fixtures.get((1 << 20) + 1)!;
      const pair = await connectPair();
      const received = collect(pair.client);
      await assert.rejects(sendFile(pair.server, fixture.path, { ...options, length: 2 << 20 }), (error: any) => {
        assert.equal(error.code, 'ZC_ERR_FILE_TRUNCATED');
        assert.equal(error.bytesWritten, fixture.size);
        return true;
      });
      pair.server.destroy();
      assert.equal((await received).bytes, fixture.size, 'never padded');
      pair.close();
    });
  });
}

describe('sendFile arguments', () => {
  it('rejects a negative offset with a RangeError', async () => {
    await assert.rejects(sendFile(1, '/dev/null', { offset: -1 }), { name: 'RangeError', code: 'ZC_ERR_OUT_OF_RANGE' });
  });
  it('rejects a fractional length with a TypeError', async () => {
    await assert.rejects(sendFile(1, '/dev/null', { length: 1.5 }), { name: 'TypeError', code: 'ZC_ERR_INVALID_ARG' });
  });
  it('rejects an unknown method', async () => {
    await assert.rejects(sendFile(1, '/dev/null', { method: 'mmap' as never }), { code: 'ZC_ERR_INVALID_ARG' });
  });
  it('rejects a destroyed socket with ZC_ERR_SOCKET_CLOSED', async () => {
    const pair = await connectPair();
    pair.server.destroy();
    await assert.rejects(sendFile(pair.server, '/dev/null'), { code: 'ZC_ERR_SOCKET_CLOSED' });
    pair.close();
  });
  it('rejects a missing file with ENOENT from open', async () => {
    const pair = await connectPair();
    await assert.rejects(sendFile(pair.server, '/nonexistent/zerocopy'), { code: 'ENOENT', syscall: 'open' });
    pair.close();
  });
  it('rejects an already aborted signal with AbortError before sending', async () => {
    const pair = await connectPair();
    await assert.rejects(sendFile(pair.server, '/dev/null', { signal: AbortSignal.abort() }), { name: 'AbortError', code: 'ABORT_ERR' });
    pair.close();
  });
});

describe('sendFile on the kernel path', () => {
  const tmp = makeTempDir();
  let fixture: Fixture;
  before(() => {
    fixture = makeRandomFile(tmp.dir, 'one-mib', 1 << 20);
  });
  after(() => tmp.remove());

  it('runs sendfile(2) on a dup of the socket, visible on the diagnostics channel', async () => {
    const capture = captureTransfers();
    const pair = await connectPair();
    const received = collect(pair.client);
    const fd = socketFd(pair.server);
    await sendFile(pair.server, fixture.path);
    pair.server.end();
    await received;
    capture.stop();
    pair.close();
    const message = capture.messages.at(-1)!;
    assert.equal(message.method, 'sendfile');
    assert.equal(message.outFd, fd);
    assert.equal(message.bytes, 1 << 20);
    assert.ok(message.syscalls >= 1);
  });

  it('sends a /proc file that sendfile(2) refuses (EINVAL) by copying', async () => {
    const { result, received } = await sendAndCollect('/proc/self/maps');
    assert.equal(result.method, 'copy');
    assert.ok(received.bytes > 0);
    assert.equal(received.bytes, result.bytes);
  });

  it('sends a pipe source with splice', async () => {
    const native = (await import('../../src/native/capabilities.js')).getNative()!;
    const made = native.testing.pipe(0);
    assert.ok(Array.isArray(made));
    const [readFd, writeFd] = made;
    const payload = Buffer.from('through a pipe, without user space');
    fs.writeSync(writeFd, payload);
    fs.closeSync(writeFd);
    try {
      const pair = await connectPair();
      const received = collect(pair.client, { keep: true });
      await assert.rejects(sendFile(pair.server, readFd, { offset: 1 }), { code: 'ZC_ERR_INVALID_ARG' });
      const result = await sendFile(pair.server, readFd);
      pair.server.end();
      assert.deepEqual(result, { bytes: payload.length, method: 'splice' });
      assert.equal((await received).data!.toString(), payload.toString());
      pair.close();
    } finally {
      fs.closeSync(readFd);
    }
  });
});
