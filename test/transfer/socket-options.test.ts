import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';

import { setNativeForTesting } from '../../src/native/capabilities.js';
import { setTcpCork } from '../../src/transfer/socket-options.js';
import { connectPair } from '../helpers/net.js';

describe('setTcpCork', () => {
  it('sets and clears TCP_CORK on a connected TCP socket (net.Socket or fd)', async () => {
    const pair = await connectPair();
    try {
      assert.equal(setTcpCork(pair.server, true), true);
      assert.equal(setTcpCork(pair.server, false), true);
      assert.equal(setTcpCork((pair.client as unknown as { _handle: { fd: number } })._handle.fd, true), true);
    } finally {
      pair.close();
    }
  });

  it('returns false, without throwing, for what it cannot cork: a file fd (ENOTSOCK), a destroyed socket, no addon', async () => {
    const fd = fs.openSync(process.execPath, 'r');
    try {
      assert.equal(setTcpCork(fd, true), false);
    } finally {
      fs.closeSync(fd);
    }
    const pair = await connectPair();
    pair.close();
    assert.equal(setTcpCork(pair.server, true), false);
    const live = await connectPair();
    const restore = setNativeForTesting(null);
    try {
      assert.equal(setTcpCork(live.server, true), false);
    } finally {
      restore();
      live.close();
    }
  });
});
