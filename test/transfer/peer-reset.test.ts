/**
 * A peer that resets its connection surfaces the same way from every
 * transfer (issue 9): ECONNRESET or EPIPE, with `errno` and `syscall`, like
 * Node core's errors, whether Node or the kernel path noticed first; no fd
 * is left behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { relay, sendFile, splice } from '../../src/index.js';
import { getNative } from '../../src/native/capabilities.js';
import { sharedPipePool } from '../../src/transfer/pipe-pool.js';
import { makeRandomFile, makeTempDir, type Fixture } from '../helpers/fixtures.js';
import { connectPair, pump, type SocketPair } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';

const MIB = 1 << 20;
const RESET_CODES = ['ECONNRESET', 'EPIPE'];

function assertResetError(error: unknown, what: string): void {
  const e = error as NodeJS.ErrnoException | undefined;
  assert.ok(e instanceof Error, `${what}: the transfer must reject`);
  assert.ok(RESET_CODES.includes(e.code ?? ''), `${what}: code ${e.code} (${e.message})`);
  assert.equal(typeof e.errno, 'number', `${what}: errno`);
  assert.equal(typeof e.syscall, 'string', `${what}: syscall`);
}

/** Resets the client side: an RST reaches the server side. */
function resetClient(pair: SocketPair): void {
  pair.client.on('error', () => {});
  pair.client.resetAndDestroy();
}

/** Lets the client read `bytes`, then resets it. */
function resetClientAfter(pair: SocketPair, bytes: number): void {
  let seen = 0;
  pair.client.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen >= bytes && !pair.client.destroyed) resetClient(pair);
  });
}

const settle = <T>(promise: Promise<T>) => promise.then(() => undefined, (e: unknown) => e);

for (const method of ['auto', 'copy'] as const) {
  describe(`a peer that resets (method: '${method}')`, () => {
    const tmp = makeTempDir();
    let big: Fixture;
    before(() => {
      big = makeRandomFile(tmp.dir, 'big', 64 * MIB);
      getNative(); // its epoll fd and eventfd are not a leak
    });
    after(() => tmp.remove());

    const serverSide = (pair: SocketPair): net.Socket => pair.server.on('error', () => {});

    it('sendFile: before the transfer', async () => {
      const baseline = openFdCount();
      const pair = await connectPair();
      serverSide(pair);
      resetClient(pair);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assertResetError(await settle(sendFile(serverSide(pair), big.path, { method })), 'sendFile');
      pair.close();
      await assertNoFdLeak(baseline);
    });

    it('sendFile: in the middle of a large transfer', async () => {
      const baseline = openFdCount();
      const pair = await connectPair();
      resetClientAfter(pair, 4 * MIB);
      const error = await withTimeout(settle(sendFile(serverSide(pair), big.path, { method })), 20000, 'sendFile');
      assertResetError(error, 'sendFile');
      assert.ok((error as { bytesWritten: number }).bytesWritten < big.size);
      pair.close();
      await assertNoFdLeak(baseline);
    });

    it('splice file → socket: before and in the middle', async () => {
      const baseline = openFdCount();
      for (const when of ['before', 'middle']) {
        const pair = await connectPair();
        serverSide(pair);
        if (when === 'before') resetClient(pair);
        else resetClientAfter(pair, 4 * MIB);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const fd = fs.openSync(big.path, 'r');
        const error = await withTimeout(settle(splice(fd, serverSide(pair), { method })), 20000, 'splice');
        fs.closeSync(fd);
        assertResetError(error, `splice (${when})`);
        pair.close();
      }
      sharedPipePool().drain();
      await assertNoFdLeak(baseline);
    });

    it('splice socket → socket: the destination resets in the middle', async () => {
      const baseline = openFdCount();
      const inbound = await connectPair({ pauseOnConnect: true });
      const outbound = await connectPair();
      resetClientAfter(outbound, 4 * MIB);
      void pump(inbound.client, 64 * MIB, 1).catch(() => {});
      inbound.client.on('error', () => {});
      const error = await withTimeout(settle(splice(inbound.server, serverSide(outbound), { method })), 20000, 'splice');
      assertResetError(error, 'splice');
      inbound.close();
      outbound.close();
      sharedPipePool().drain();
      await assertNoFdLeak(baseline);
    });

    it('relay: one side resets before, or in the middle, and the relay rejects with its code', async () => {
      const baseline = openFdCount();
      for (const when of ['before', 'middle']) {
        const left = await connectPair({ pauseOnConnect: true });
        const right = await connectPair({ pauseOnConnect: true });
        right.client.on('error', () => {});
        serverSide(left);
        serverSide(right);
        if (when === 'before') resetClient(left);
        else void pump(right.client, 64 * MIB, 2).catch(() => {});
        if (when === 'middle') resetClientAfter(left, 4 * MIB);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const error = await withTimeout(settle(relay(serverSide(left), serverSide(right), { method })), 20000, 'relay');
        assertResetError(error, `relay (${when})`);
        left.close();
        right.close();
      }
      sharedPipePool().drain();
      await assertNoFdLeak(baseline);
    });
  });
}

describe('sendFile to an HTTP/2 response\'s socket', () => {
  it('refuses it (ZC_ERR_SOCKET_UNUSABLE): the fd is the whole session\'s', async () => {
    const http2 = await import('node:http2');
    const tmp = makeTempDir();
    const file = makeRandomFile(tmp.dir, 'small', 1000);
    let seen: unknown;
    const server = http2.createServer((_req, res) => {
      sendFile(res.socket as net.Socket, file.path).then(() => undefined, (error) => error).then((error) => {
        seen = error;
        res.end('fallback');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const stream = client.request({ ':path': '/' });
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((resolve) => stream.on('end', resolve));
      assert.equal(Buffer.concat(chunks).toString(), 'fallback', 'the session still works');
      assert.equal((seen as { code?: string } | undefined)?.code, 'ZC_ERR_SOCKET_UNUSABLE');
    } finally {
      client.close();
      server.close();
      tmp.remove();
    }
  });
});
