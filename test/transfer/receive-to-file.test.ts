import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';

import { metrics, receiveToFile, TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/index.js';
import { socketFd } from '../../src/transfer/endpoint.js';
import { makeTempDir, sha256 } from '../helpers/fixtures.js';
import { connectPair, pump, type SocketPair } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';

const MIB = 1 << 20;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('receiveToFile', () => {
  const tmp = makeTempDir();
  const open: SocketPair[] = [];
  let n = 0;
  const file = () => path.join(tmp.dir, `received-${n++}`);
  const pair = async (options = {}) => {
    const p = await connectPair(options);
    open.push(p);
    return p;
  };
  afterEach(() => open.splice(0).forEach((p) => p.close()));
  after(() => tmp.remove());

  it('receives `count` bytes from a socket into a new file with splice, never through a JS buffer', async () => {
    const { server, client } = await pair({ pauseOnConnect: true });
    const target = file();
    const seen: TransferEndMessage[] = [];
    const listener = (m: unknown) => seen.push(m as TransferEndMessage);
    diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
    try {
      const sent = pump(client, 8 * MIB, 1);
      const result = await receiveToFile(server, target, { count: 8 * MIB });
      assert.deepEqual(result, { bytes: 8 * MIB, method: 'splice' });
      assert.equal(sha256(fs.readFileSync(target)), await sent);
      const spliced = seen.filter((m) => m.method === 'splice');
      assert.equal(spliced.length, 1);
      assert.equal(spliced[0]!.inFd, socketFd(server), 'the socket was the source of the splice');
      assert.equal(spliced[0]!.bytes, 8 * MIB);
    } finally {
      diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
    }
  });

  it('writes the bytes Node had already read first, in order', async () => {
    const { server, client } = await pair(); // Node reads this socket into its buffer
    const first = crypto.randomBytes(1000);
    client.write(first);
    await waitFor(() => server.readableLength === 1000, 'Node to buffer the first bytes');
    const rest = crypto.randomBytes(MIB);
    client.write(rest);
    const target = file();
    const result = await receiveToFile(server, target, { count: 1000 + MIB });
    assert.equal(result.bytes, 1000 + MIB);
    assert.ok(fs.readFileSync(target).equals(Buffer.concat([first, rest])));
  });

  it('leaves the bytes past `count` in the socket for Node to read after resume()', async () => {
    const { server, client } = await pair({ pauseOnConnect: true });
    const payload = crypto.randomBytes(MIB + 100);
    client.end(payload);
    const target = file();
    await receiveToFile(server, target, { count: MIB });
    assert.ok(fs.readFileSync(target).equals(payload.subarray(0, MIB)));
    const chunks: Buffer[] = [];
    server.on('data', (d: Buffer) => chunks.push(d));
    server.resume();
    await withTimeout(new Promise((resolve) => server.once('end', resolve)), 5000, 'the rest');
    assert.ok(Buffer.concat(chunks).equals(payload.subarray(MIB)));
  });

  it('receives until the peer ends the stream when `count` is omitted', async () => {
    const { server, client } = await pair({ pauseOnConnect: true });
    const payload = crypto.randomBytes(3 * MIB + 5);
    client.end(payload);
    const target = file();
    const result = await receiveToFile(server, target);
    assert.equal(result.bytes, payload.length);
    assert.ok(fs.readFileSync(target).equals(payload));
  });

  it('writes at an fd\'s position and advances it, so two receives append', async () => {
    const { server, client } = await pair({ pauseOnConnect: true });
    const target = file();
    const fd = fs.openSync(target, 'w');
    try {
      const payload = crypto.randomBytes(200_000);
      client.end(payload);
      await receiveToFile(server, fd, { count: 100_000 });
      await receiveToFile(server, fd, { count: 100_000 });
      fs.writeSync(fd, Buffer.from('!')); // at the position both receives advanced
      assert.ok(fs.readFileSync(target).equals(Buffer.concat([payload, Buffer.from('!')])));
    } finally {
      fs.closeSync(fd);
    }
  });

  it('fails with ZC_ERR_UNEXPECTED_EOF when the stream ends before `count`, keeping what arrived', async () => {
    const { server, client } = await pair({ pauseOnConnect: true });
    const payload = crypto.randomBytes(5000);
    client.end(payload);
    const target = file();
    const error = await receiveToFile(server, target, { count: 10_000 }).then(() => undefined, (e) => e);
    assert.equal(error?.code, 'ZC_ERR_UNEXPECTED_EOF');
    assert.equal(error.bytesWritten, 5000);
    assert.ok(fs.readFileSync(target).equals(payload));
  });

  describe('when the kernel path cannot be used', () => {
    it('copies with pwrite for an explicit offset, leaving the position alone, and counts the fallback', async () => {
      const { server, client } = await pair({ pauseOnConnect: true });
      const target = file();
      fs.writeFileSync(target, Buffer.alloc(10, 0x2e));
      const fd = fs.openSync(target, 'r+');
      const before = metrics().fallbacks['splice:destination-offset'] ?? 0;
      try {
        const payload = crypto.randomBytes(300_000);
        client.end(payload);
        const result = await receiveToFile(server, fd, { offset: 10, count: payload.length });
        assert.deepEqual(result, { bytes: payload.length, method: 'copy' });
        fs.writeSync(fd, Buffer.from('P')); // the position is still 0
        const got = fs.readFileSync(target);
        assert.equal(got[0], 0x50);
        assert.ok(got.subarray(10).equals(payload));
        assert.equal(metrics().fallbacks['splice:destination-offset'], before + 1);
      } finally {
        fs.closeSync(fd);
      }
    });

    it('falls back to copying into an O_APPEND fd, which splice refuses, and says so', async () => {
      const { server, client } = await pair({ pauseOnConnect: true });
      const target = file();
      fs.writeFileSync(target, 'existing;');
      const fd = fs.openSync(target, 'a');
      const before = metrics().fallbacks['splice:append-only-destination'] ?? 0;
      try {
        const payload = crypto.randomBytes(200_000);
        client.end(payload);
        const result = await receiveToFile(server, fd, { count: payload.length });
        assert.equal(result.method, 'copy');
        assert.equal(metrics().fallbacks['splice:append-only-destination'], before + 1);
        assert.ok(fs.readFileSync(target).equals(Buffer.concat([Buffer.from('existing;'), payload])));
      } finally {
        fs.closeSync(fd);
      }
    });

    it('moves the same bytes with method "copy"', async () => {
      const { server, client } = await pair();
      const payload = crypto.randomBytes(2 * MIB);
      client.write(payload.subarray(0, 10));
      await waitFor(() => server.readableLength === 10, 'Node to buffer the first bytes');
      client.end(payload.subarray(10));
      const target = file();
      const result = await receiveToFile(server, target, { count: payload.length, method: 'copy' });
      assert.deepEqual(result, { bytes: payload.length, method: 'copy' });
      assert.ok(fs.readFileSync(target).equals(payload));
    });
  });
});
