/**
 * Issue 16: a relay carrying request/response traffic. Messages up to 16 KiB
 * go through the relay's small buffer (recv + send), and a short read ends
 * the round without a probing read; larger ones are spliced. Both byte-exact,
 * both counted.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import type net from 'node:net';
import { describe, it } from 'node:test';

import { metrics, relay, TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/index.js';
import { getNative } from '../../src/native/capabilities.js';
import { SMALL_MESSAGE_BYTES } from '../../src/transfer/run.js';
import { collect, connectPair } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';

/** Reads exactly `bytes` from a socket. */
async function readExactly(socket: net.Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < bytes) {
    const chunk = socket.read(Math.min(bytes - have, socket.readableLength || 1)) as Buffer | null;
    if (chunk === null) {
      await once(socket, 'readable');
      continue;
    }
    chunks.push(chunk);
    have += chunk.length;
  }
  return Buffer.concat(chunks);
}

/** client ⇄ relay ⇄ echo server; resolves with the relay's transfer-end messages. */
async function echoThroughRelay(exchange: (client: net.Socket) => Promise<void>) {
  const left = await connectPair({ pauseOnConnect: true });
  const right = await connectPair({ pauseOnConnect: true });
  right.client.on('data', (chunk: Buffer) => right.client.write(chunk)); // the echo upstream
  right.client.resume();
  const ends: TransferEndMessage[] = [];
  const listener = (m: unknown) => ends.push(m as TransferEndMessage);
  diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
  try {
    const relayed = relay(left.server, right.server);
    left.client.pause();
    await exchange(left.client);
    left.client.end();
    const result = await withTimeout(relayed, 10000, 'relay');
    return { result, ends };
  } finally {
    diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
    left.close();
    right.close();
  }
}

describe('issue 16: request/response through a relay', { skip: getNative() ? false : 'the addon is not built on this platform' }, () => {
  it('carries small messages by recv + send with two data calls per message, no probing read', async () => {
    const rounds = 500;
    const before = metrics().methods.splice.bytesCopied;
    const { result, ends } = await echoThroughRelay(async (client) => {
      for (let i = 0; i < rounds; i++) {
        const request = crypto.randomBytes(16);
        client.write(request);
        assert.deepEqual(await readExactly(client, 16), request, `round ${i}`);
      }
    });
    assert.equal(result.method, 'splice');
    assert.equal(result.aToB, rounds * 16);
    assert.equal(result.bytesCopied, 2 * rounds * 16, 'the result says every byte went through user space');
    assert.equal(metrics().methods.splice.bytesCopied - before, 2 * rounds * 16, 'every small message went through the buffer');
    for (const end of ends) {
      assert.equal(end.copiedBytes, rounds * 16);
      // read + send per message, plus the final EOF read: a probe per message would make it 3.
      assert.ok(end.syscalls <= 2 * rounds + 10, `${end.syscalls} data syscalls for ${rounds} messages`);
    }
  });

  it('carries messages around the buffer size and far beyond it byte for byte', async () => {
    const sizes = [1, SMALL_MESSAGE_BYTES - 1, SMALL_MESSAGE_BYTES, SMALL_MESSAGE_BYTES + 1, 64 << 10, 3 << 20, 7, SMALL_MESSAGE_BYTES * 2];
    const { result, ends } = await echoThroughRelay(async (client) => {
      for (const size of [...sizes, ...sizes.reverse()]) {
        const request = crypto.randomBytes(size);
        const answer = readExactly(client, size);
        client.write(request);
        assert.ok((await answer).equals(request), `a ${size}-byte message came back intact`);
      }
    });
    const total = 2 * sizes.reduce((a, b) => a + b, 0);
    assert.equal(result.aToB, total);
    assert.equal(result.bToA, total);
    const copied = ends.reduce((sum, e) => sum + (e.copiedBytes ?? 0), 0);
    assert.ok(copied > 0 && copied < 2 * total, `some bytes copied (${copied}), the large ones spliced`);
  });

  it('sees a FIN that arrived with the last small message (no wait for an edge that already came), 50 rounds', async () => {
    for (let round = 0; round < 50; round++) {
      const left = await connectPair({ pauseOnConnect: true, clientAllowHalfOpen: true });
      const right = await connectPair({ pauseOnConnect: true, clientAllowHalfOpen: true });
      try {
        const relayed = relay(left.server, right.server);
        const upstream = collect(right.client, { keep: true });
        left.client.end('last words'); // data and FIN together
        const got = await withTimeout(upstream, 5000, `round ${round}: the upstream's EOF`);
        assert.equal(got.data!.toString(), 'last words');
        assert.equal(got.ending, 'end');
        right.client.end();
        await withTimeout(relayed, 5000, `round ${round}: the relay`);
      } finally {
        left.close();
        right.close();
      }
    }
  });

  it('forwards what arrived while it waited for a stalled upstream, with no later edge to wake it (no lost wakeup)', async () => {
    for (const method of ['auto', 'copy'] as const) {
      const left = await connectPair({ pauseOnConnect: true, clientAllowHalfOpen: true });
      const right = await connectPair({ pauseOnConnect: true, clientAllowHalfOpen: true });
      try {
        const relayed = relay(left.server, right.server, { method });
        right.client.pause(); // the upstream stops reading: the relay's sends block
        const hash = crypto.createHash('sha256');
        let sent = 0;
        const message = crypto.randomBytes(4000);
        // Small messages, each read short by the relay, until every buffer on
        // the way is full (Node starts queuing): their edges all arrive while
        // the relay waits on the upstream, and nothing comes after them.
        for (let i = 0; i < 10_000 && left.client.writableLength === 0; i++) {
          hash.update(message);
          sent += message.length;
          left.client.write(message);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        const received = crypto.createHash('sha256');
        let got = 0;
        const all = new Promise<void>((resolve) => {
          right.client.on('data', (chunk: Buffer) => {
            received.update(chunk);
            got += chunk.length;
            if (got === sent) resolve();
          });
        });
        right.client.resume();
        await withTimeout(all, 10000, `${method}: ${sent} bytes at the upstream (got ${got})`);
        assert.equal(received.digest('hex'), hash.digest('hex'));
        const eof = once(right.client, 'end');
        left.client.end();
        await withTimeout(eof, 5000, `${method}: the FIN at the upstream`);
        right.client.end();
        await withTimeout(relayed, 5000, `${method}: the relay`);
      } finally {
        left.close();
        right.close();
      }
    }
  });

  it('carries pipelined requests (many messages per read) intact', async () => {
    const requests = Array.from({ length: 200 }, (_, i) => crypto.randomBytes(1 + (i * 37) % 3000));
    const all = Buffer.concat(requests);
    const { result } = await echoThroughRelay(async (client) => {
      const answer = readExactly(client, all.length);
      for (const request of requests) client.write(request);
      assert.ok((await answer).equals(all));
    });
    assert.equal(result.bToA, all.length);
  });
});
