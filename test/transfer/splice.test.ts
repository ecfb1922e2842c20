import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';

import { splice, tee } from '../../src/index.js';
import { getNative, setNativeForTesting } from '../../src/native/capabilities.js';
import { PipePool } from '../../src/transfer/pipe-pool.js';
import { hashFileRange, makeRandomFile, makeTempDir, sha256, type Fixture } from '../helpers/fixtures.js';
import { collect, connectPair, type SocketPair } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';

const MIB = 1 << 20;

// Captured before any test swaps the addon out.
const native = getNative()!;

function makePipe(): [readFd: number, writeFd: number] {
  const made = native.testing.pipe(0);
  assert.ok(Array.isArray(made), `pipe() failed: ${made}`);
  return [made[0], made[1]];
}

describe('splice', () => {
  const tmp = makeTempDir();
  let fixture: Fixture;
  const open: SocketPair[] = [];
  const pair = async (options = {}) => {
    const p = await connectPair(options);
    open.push(p);
    return p;
  };
  before(() => {
    fixture = makeRandomFile(tmp.dir, 'eight', 8 * MIB);
  });
  afterEach(() => open.splice(0).forEach((p) => p.close()));
  after(() => tmp.remove());

  it('moves a socket stream to another socket through an internal pipe, byte for byte', async () => {
    const inbound = await pair({ pauseOnConnect: true });
    const outbound = await pair();
    const received = collect(outbound.client);
    inbound.client.end(fs.readFileSync(fixture.path));
    const result = await splice(inbound.server, outbound.server);
    outbound.server.end();
    assert.deepEqual(result, { bytes: fixture.size, method: 'splice' });
    assert.equal((await received).sha256, fixture.sha256);
  });

  it('forwards bytes Node had already buffered before splicing the rest', async () => {
    const inbound = await pair(); // Node reads this one
    const outbound = await pair();
    const first = Buffer.from('already read by Node;');
    inbound.client.write(first);
    const [chunk] = (await new Promise((resolve) => inbound.server.once('data', (d) => resolve([d])))) as [Buffer];
    inbound.server.unshift(chunk); // as if Node had buffered it without delivering
    const received = collect(outbound.client, { keep: true });
    inbound.client.end(Buffer.from(' then the kernel moved the rest'));
    const result = await splice(inbound.server, outbound.server);
    outbound.server.end();
    const { data } = await received;
    assert.equal(data!.toString(), 'already read by Node; then the kernel moved the rest');
    assert.equal(result.bytes, data!.length);
  });

  it('stops after `length` bytes and leaves the rest in the socket', async () => {
    const inbound = await pair({ pauseOnConnect: true });
    const outbound = await pair();
    const received = collect(outbound.client);
    inbound.client.write(Buffer.alloc(3 * MIB, 1));
    const result = await splice(inbound.server, outbound.server, { length: MIB });
    outbound.server.end();
    assert.equal(result.bytes, MIB);
    assert.equal((await received).bytes, MIB);
    inbound.server.resume();
    let rest = 0;
    inbound.server.on('data', (d: Buffer) => (rest += d.length));
    inbound.client.end();
    await new Promise((resolve) => inbound.server.once('end', resolve));
    assert.equal(rest, 2 * MIB, 'Node reads the remaining bytes after resume()');
  });

  it('rejects with ZC_ERR_UNEXPECTED_EOF when the source ends before `length`', async () => {
    const inbound = await pair({ pauseOnConnect: true });
    const outbound = await pair();
    inbound.client.end(Buffer.alloc(1000));
    await assert.rejects(splice(inbound.server, outbound.server, { length: 5000 }), {
      code: 'ZC_ERR_UNEXPECTED_EOF',
      bytesWritten: 1000,
    });
  });

  it('splices a file range into a pipe without moving the file position', async () => {
    const [readFd, writeFd] = makePipe();
    const fd = fs.openSync(fixture.path, 'r');
    try {
      const result = await splice(fd, writeFd, { offset: 4096, length: 60000 });
      assert.deepEqual(result, { bytes: 60000, method: 'splice' });
      const out = Buffer.alloc(60000);
      assert.equal(fs.readSync(readFd, out), 60000);
      assert.equal(sha256(out), hashFileRange(fixture.path, 4096, 4096 + 60000));
      const next = Buffer.alloc(4);
      fs.readSync(fd, next, 0, 4, null);
      assert.deepEqual(next, fs.readFileSync(fixture.path).subarray(0, 4), 'file position still 0');
    } finally {
      [readFd, writeFd, fd].forEach((f) => fs.closeSync(f));
    }
  });

  it('splices a pipe to a socket until the pipe has no writers', async () => {
    const [readFd, writeFd] = makePipe();
    const outbound = await pair();
    const received = collect(outbound.client, { keep: true });
    const transfer = splice(readFd, outbound.server);
    fs.writeSync(writeFd, 'first ');
    setTimeout(() => {
      fs.writeSync(writeFd, 'second');
      fs.closeSync(writeFd);
    }, 50);
    const result = await withTimeout(transfer, 5000, 'pipe splice');
    outbound.server.end();
    fs.closeSync(readFd);
    assert.deepEqual(result, { bytes: 12, method: 'splice' });
    assert.equal((await received).data!.toString(), 'first second');
  });

  it('copies and says so when the pipe pool is exhausted', async () => {
    const inbound = await pair({ pauseOnConnect: true });
    const outbound = await pair();
    const received = collect(outbound.client);
    inbound.client.end(fs.readFileSync(fixture.path));
    const pipePool = new PipePool({ maxPipes: 0 });
    const result = await splice(inbound.server, outbound.server, { pipePool });
    outbound.server.end();
    assert.deepEqual(result, { bytes: fixture.size, method: 'copy' });
    assert.equal((await received).sha256, fixture.sha256);
  });

  it('copies when forced, with the same bytes', async () => {
    const inbound = await pair({ pauseOnConnect: true });
    const outbound = await pair();
    const received = collect(outbound.client);
    inbound.client.end(fs.readFileSync(fixture.path));
    const result = await splice(inbound.server, outbound.server, { method: 'copy' });
    outbound.server.end();
    assert.deepEqual(result, { bytes: fixture.size, method: 'copy' });
    assert.equal((await received).sha256, fixture.sha256);
  });

  it('rejects with AbortError carrying bytesWritten when the signal aborts mid-transfer', async () => {
    const inbound = await pair({ pauseOnConnect: true });
    const outbound = await pair();
    inbound.client.write(Buffer.alloc(MIB));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(splice(inbound.server, outbound.server, { signal: controller.signal }), (error: any) => {
      assert.equal(error.name, 'AbortError');
      assert.equal(error.bytesWritten, MIB);
      return true;
    });
  });

  it('rejects a TLS-like or destroyed socket clearly', async () => {
    const p = await pair();
    p.server.destroy();
    await assert.rejects(splice(p.server, 1), { code: 'ZC_ERR_SOCKET_CLOSED' });
    await assert.rejects(splice(-1, 1), { code: 'ZC_ERR_OUT_OF_RANGE' });
  });

  describe('without the addon', () => {
    let restore = () => {};
    before(() => {
      restore = setNativeForTesting(null);
    });
    after(() => restore());

    it('copies socket to socket with the same bytes', async () => {
      const inbound = await pair({ pauseOnConnect: true });
      const outbound = await pair();
      const received = collect(outbound.client);
      inbound.client.end(fs.readFileSync(fixture.path));
      const result = await splice(inbound.server as net.Socket, outbound.server);
      outbound.server.end();
      assert.deepEqual(result, { bytes: fixture.size, method: 'copy' });
      assert.equal((await received).sha256, fixture.sha256);
    });

    it('rejects tee with ZC_ERR_UNSUPPORTED', async () => {
      const [readFd, writeFd] = makePipe();
      await assert.rejects(tee(readFd, writeFd), { code: 'ZC_ERR_UNSUPPORTED' });
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
    });
  });
});

describe('tee', () => {
  it('duplicates pipe contents without consuming them', async () => {
    const [inRead, inWrite] = makePipe();
    const [outRead, outWrite] = makePipe();
    try {
      fs.writeSync(inWrite, 'shared bytes');
      const result = await tee(inRead, outWrite);
      assert.deepEqual(result, { bytes: 12, method: 'tee' });
      const copy = Buffer.alloc(64);
      const original = Buffer.alloc(64);
      assert.equal(fs.readSync(outRead, copy).valueOf(), 12);
      assert.equal(fs.readSync(inRead, original).valueOf(), 12);
      assert.equal(copy.subarray(0, 12).toString(), 'shared bytes');
      assert.equal(original.subarray(0, 12).toString(), 'shared bytes');
    } finally {
      [inRead, inWrite, outRead, outWrite].forEach((fd) => fs.closeSync(fd));
    }
  });

  it('waits for data to arrive, then duplicates at most `length` bytes', async () => {
    const [inRead, inWrite] = makePipe();
    const [outRead, outWrite] = makePipe();
    try {
      const pending = tee(inRead, outWrite, { length: 5 });
      setTimeout(() => fs.writeSync(inWrite, 'later data'), 30);
      const result = await withTimeout(pending, 5000, 'tee');
      assert.equal(result.bytes, 5);
      const copy = Buffer.alloc(64);
      assert.equal(fs.readSync(outRead, copy), 5);
      assert.equal(copy.subarray(0, 5).toString(), 'later');
    } finally {
      [inRead, inWrite, outRead, outWrite].forEach((fd) => fs.closeSync(fd));
    }
  });

  it('resolves 0 bytes when the input pipe is empty with no writers', async () => {
    const [inRead, inWrite] = makePipe();
    const [outRead, outWrite] = makePipe();
    fs.closeSync(inWrite);
    try {
      assert.deepEqual(await tee(inRead, outWrite), { bytes: 0, method: 'tee' });
    } finally {
      [inRead, outRead, outWrite].forEach((fd) => fs.closeSync(fd));
    }
  });

  it('rejects fds that are not pipes with ZC_ERR_NOT_A_PIPE', async () => {
    const fd = fs.openSync('/dev/null', 'r');
    const [outRead, outWrite] = makePipe();
    try {
      await assert.rejects(tee(fd, outWrite), { name: 'TypeError', code: 'ZC_ERR_NOT_A_PIPE' });
    } finally {
      [fd, outRead, outWrite].forEach((f) => fs.closeSync(f));
    }
  });
});
