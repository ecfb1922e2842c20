/**
 * Found with issue 12: Node calls a socket write's callback without an error
 * when the socket was destroyed before the write finished (a reset that
 * Node's read noticed first, or a destroy()). The copy path (no addon, TLS
 * sockets) took that for "written"; a later chunk would notice the destroyed
 * socket, but after the last chunk the transfer resolved with bytes that
 * may never have left: a short body presented as complete.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { sendFile } from '../../src/index.js';
import { setNativeForTesting } from '../../src/native/capabilities.js';
import { FALLBACK_CHUNK_BYTES } from '../../src/transfer/copy-fallback.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { connectPair } from '../helpers/net.js';

/** Destroys `socket` right after its `nth` write() call starts: that write cannot be known to have left. */
function destroyDuringWrite(socket: net.Socket, nth: number): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let calls = 0;
  (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
    const queued = write(...args);
    if (++calls === nth) socket.destroy();
    return queued;
  };
}

describe('issue 12: the copy path when the socket goes away during the last write', () => {
  const tmp = makeTempDir();
  let restore = () => {};
  let file: string;
  before(() => {
    restore = setNativeForTesting(null);
    file = path.join(tmp.dir, 'f');
    fs.writeFileSync(file, Buffer.alloc(FALLBACK_CHUNK_BYTES + 1000, 7)); // two chunks
  });
  after(() => {
    restore();
    tmp.remove();
  });

  it('rejects with ZC_ERR_SOCKET_CLOSED instead of resolving', async () => {
    const pair = await connectPair();
    pair.client.on('error', () => {});
    destroyDuringWrite(pair.server, 2);
    await assert.rejects(sendFile(pair.server, file), (error: NodeJS.ErrnoException & { bytesWritten?: number }) => {
      assert.equal(error.code, 'ZC_ERR_SOCKET_CLOSED');
      assert.equal(error.bytesWritten, FALLBACK_CHUNK_BYTES, 'only the first chunk is known to have left');
      return true;
    });
    pair.close();
  });
});
