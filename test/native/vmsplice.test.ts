/**
 * Why sendBuffers offers no vmsplice path (issue 12, docs/api/send-buffers.md):
 * after vmsplice() into a pipe and splice() to a TCP socket have both
 * returned, the socket still references the caller's pages, and nothing says
 * when it stops. Memory changed then is what the peer receives. If this test
 * ever fails, the kernel started copying, and the decision can be revisited.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';

import { getNative } from '../../src/native/capabilities.js';
import { socketFd } from '../../src/transfer/endpoint.js';
import { collect, connectPair } from '../helpers/net.js';

const native = getNative();

describe('vmsplice', { skip: native ? false : 'the addon is not built on this platform' }, () => {
  it('lets a change made after vmsplice and splice returned reach the peer', async () => {
    const pair = await connectPair();
    pair.client.pause();
    const received = collect(pair.client, { keep: true });
    const made = native!.testing.pipe(1 << 20);
    assert.ok(Array.isArray(made));
    const [readFd, writeFd] = made;
    try {
      const page = 64 << 10;
      const buffer = Buffer.alloc(page, 'A');
      assert.equal(native!.testing.vmspliceOnce(writeFd, buffer), page);
      assert.equal(native!.testing.spliceOnce(readFd, -1, socketFd(pair.server)!, page), page);
      buffer.fill('B'); // both calls have returned: a caller would reuse its memory now
      pair.client.resume();
      pair.server.end();
      const got = (await received).data!;
      assert.equal(got.length, page);
      const changed = got.filter((byte) => byte === 'B'.charCodeAt(0)).length;
      assert.ok(changed > 0, 'the peer received bytes written after the send returned');
    } finally {
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
      pair.close();
    }
  });
});
