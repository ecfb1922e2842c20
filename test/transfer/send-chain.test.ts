import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';

import { sendChain, type ChainPart } from '../../src/index.js';
import { socketFd } from '../../src/transfer/endpoint.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../helpers/fixtures.js';
import { collect, connectPair, type SocketPair } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';
import { captureTransfers } from '../helpers/transfers.js';

const MIB = 1 << 20;

/** What the chain should put on the wire, computed the slow way. */
function expectedBytes(parts: ChainPart[]): Buffer {
  return Buffer.concat(parts.map((part) => {
    if (part instanceof Uint8Array) return Buffer.from(part);
    const data = part.path !== undefined ? fs.readFileSync(part.path) : fs.readFileSync(`/proc/self/fd/${part.fd}`);
    return data.subarray(part.offset, part.offset + part.length);
  }));
}


describe('sendChain', () => {
  const tmp = makeTempDir();
  let first: Fixture;
  let second: Fixture;
  const open: SocketPair[] = [];
  const pair = async () => {
    const p = await connectPair();
    open.push(p);
    return p;
  };
  before(() => {
    first = makeRandomFile(tmp.dir, 'first', 3 * MIB + 17);
    second = makeRandomFile(tmp.dir, 'second', 64 * 1024);
  });
  afterEach(() => open.splice(0).forEach((p) => p.close()));
  after(() => tmp.remove());

  describe('when every part is valid', () => {
    it('sends buffers and regions of several files in order, byte for byte, with sendfile for each region', async () => {
      const fd = fs.openSync(second.path, 'r');
      const capture = captureTransfers();
      try {
        const { server, client } = await pair();
        const parts: ChainPart[] = [
          Buffer.from('header:'),
          Buffer.from('partition-0:'),
          { path: first.path, offset: 4096, length: 2 * MIB },
          { fd, offset: 0, length: second.size },
          Buffer.from(':between:'),
          { path: first.path, offset: 1, length: 999 },
          new Uint8Array([1, 2, 3]),
          Buffer.from(':end'),
        ];
        const expected = expectedBytes(parts);
        const received = collect(client);
        const result = await sendChain(server, parts);
        server.end();
        const got = await received;
        assert.equal(got.sha256, sha256(expected));
        assert.equal(result.bytes, expected.length);
        assert.equal(result.method, 'sendfile');
        assert.deepEqual(result.parts.map((p) => p.method), ['write', 'write', 'sendfile', 'sendfile', 'write', 'sendfile', 'write', 'write']);
        assert.deepEqual(result.parts.map((p) => p.bytes), [7, 12, 2 * MIB, second.size, 9, 999, 3, 4]);
        const regions = capture.messages.filter((m) => m.method === 'sendfile');
        assert.equal(regions.length, 3, 'one sendfile transfer per region');
        const outFd = socketFd(server);
        assert.ok(regions.every((m) => m.outFd === outFd), 'every region went to the socket');
        assert.equal(regions.reduce((a, m) => a + m.bytes, 0), 2 * MIB + second.size + 999);
      } finally {
        capture.stop();
        fs.closeSync(fd);
      }
    });

    it('sends the same bytes through user space with method "copy"', async () => {
      const { server, client } = await pair();
      const parts: ChainPart[] = [Buffer.from('a'), { path: first.path, offset: 10, length: MIB }, Buffer.from('z')];
      const expected = expectedBytes(parts);
      const received = collect(client);
      const result = await sendChain(server, parts, { method: 'copy' });
      server.end();
      assert.equal((await received).sha256, sha256(expected));
      assert.equal(result.method, 'copy');
      assert.deepEqual(result.parts.map((p) => p.method), ['write', 'copy', 'write']);
    });

    it('writes a chain of buffers only, and an empty chain, without touching a file', async () => {
      const { server, client } = await pair();
      const received = collect(client, { keep: true });
      assert.deepEqual(await sendChain(server, []), { bytes: 0, method: 'write', parts: [] });
      const result = await sendChain(server, [Buffer.from('one '), Buffer.from('two '), Buffer.from('three')]);
      server.end();
      assert.equal((await received).data!.toString(), 'one two three');
      assert.equal(result.bytes, 13);
      assert.equal(result.method, 'write');
    });

    it('skips empty regions and reports them as "none"', async () => {
      const { server, client } = await pair();
      const received = collect(client, { keep: true });
      const result = await sendChain(server, [Buffer.from('x'), { path: first.path, offset: first.size, length: 0 }, Buffer.from('y')]);
      server.end();
      assert.equal((await received).data!.toString(), 'xy');
      assert.deepEqual(result.parts.map((p) => p.method), ['write', 'none', 'write']);
    });

    it('writes to a numeric fd (a file) as well', async () => {
      const target = fs.openSync(`${tmp.dir}/chain-out`, 'w');
      try {
        const parts: ChainPart[] = [Buffer.from('head'), { path: second.path, offset: 100, length: 5000 }, Buffer.from('tail')];
        const result = await sendChain(target, parts);
        assert.equal(result.bytes, 5008);
        assert.ok(fs.readFileSync(`${tmp.dir}/chain-out`).equals(expectedBytes(parts)));
      } finally {
        fs.closeSync(target);
      }
    });

    it('closes every file it opened from a path, and no other', async () => {
      const baseline = openFdCount();
      const { server, client } = await pair();
      const received = collect(client);
      await sendChain(server, [{ path: first.path, offset: 0, length: 10 }, { path: first.path, offset: 20, length: 10 }, { path: second.path, offset: 0, length: 10 }]);
      server.end();
      await received;
      open.splice(0).forEach((p) => p.close());
      await assertNoFdLeak(baseline);
    });
  });

  describe('when a region cannot be sent whole', () => {
    it('fails with ZC_ERR_REGION_PAST_EOF before sending anything when a region ends past EOF', async () => {
      const { server, client } = await pair();
      const received = collect(client);
      const error = await sendChain(server, [Buffer.from('header'), { path: second.path, offset: second.size - 10, length: 11 }]).then(() => undefined, (e) => e);
      assert.equal(error?.code, 'ZC_ERR_REGION_PAST_EOF');
      assert.equal(error.bytesWritten, 0);
      server.end();
      assert.equal((await received).bytes, 0, 'not even the header went out');
    });

    it('fails with ZC_ERR_FILE_TRUNCATED when a file shrinks under the chain, never padding the body', async () => {
      const victim = makeRandomFile(tmp.dir, 'victim', 64 * MIB);
      const { server, client } = await pair();
      const received = collect(client, { bytesPerSecond: 32 * MIB });
      const chain = sendChain(server, [Buffer.from('head'), { path: victim.path, offset: 0, length: victim.size }, Buffer.from('tail')]).then(() => undefined, (e) => e);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await fs.promises.truncate(victim.path, 4 * MIB);
      const error = await withTimeout(chain, 15000, 'the truncated chain');
      assert.equal(error?.code, 'ZC_ERR_FILE_TRUNCATED');
      assert.ok(error.bytesWritten < victim.size + 8);
      server.destroy();
      assert.ok((await received).bytes < victim.size + 8, 'the reader never sees a complete-looking chain');
    });
  });

  describe('when the arguments are wrong', () => {
    const cases: [string, unknown, string][] = [
      ['parts is not an array', 'nope', 'ZC_ERR_INVALID_ARG'],
      ['a part is a number', [42], 'ZC_ERR_INVALID_ARG'],
      ['a region has both fd and path', [{ fd: 0, path: 'x', offset: 0, length: 1 }], 'ZC_ERR_INVALID_ARG'],
      ['a region has neither fd nor path', [{ offset: 0, length: 1 }], 'ZC_ERR_INVALID_ARG'],
      ['a region has a negative offset', [{ path: 'x', offset: -1, length: 1 }], 'ZC_ERR_OUT_OF_RANGE'],
      ['a region has a fractional length', [{ path: 'x', offset: 0, length: 1.5 }], 'ZC_ERR_INVALID_ARG'],
      ['a region lacks its length', [{ path: 'x', offset: 0 }], 'ZC_ERR_INVALID_ARG'],
    ];
    for (const [what, parts, code] of cases) {
      it(`rejects with ${code} when ${what}`, async () => {
        const { server } = await pair();
        const error = await sendChain(server, parts as ChainPart[]).then(() => undefined, (e) => e);
        assert.equal(error?.code, code);
      });
    }

    it('rejects a region of something that is not a regular file', async () => {
      const { server } = await pair();
      const error = await sendChain(server, [{ path: tmp.dir, offset: 0, length: 0 }]).then(() => undefined, (e) => e);
      assert.ok(error, 'a directory is refused');
    });
  });

  it('moves a random mix of many small parts byte for byte', async () => {
    const { server, client } = await pair();
    const parts: ChainPart[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 3 === 0) parts.push(crypto.randomBytes(i % 50));
      else parts.push({ path: i % 2 ? first.path : second.path, offset: (i * 977) % 60000, length: (i * 131) % 3000 });
    }
    const expected = expectedBytes(parts);
    const received = collect(client);
    const result = await sendChain(server, parts);
    server.end();
    assert.equal((await received).sha256, sha256(expected));
    assert.equal(result.bytes, expected.length);
  });
});
