import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, it } from 'node:test';

import { metrics, relay } from '../../src/index.js';
import { getNative, setNativeForTesting } from '../../src/native/capabilities.js';
import { PipePool, sharedPipePool } from '../../src/transfer/pipe-pool.js';
import { collect, connectPair, pump, type SocketPair } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';

const MIB = 1 << 20;


/**
 * client ⇄ [a relay b] ⇄ upstream: `left.client` talks to `right.client`
 * through relay(left.server, right.server).
 */
async function relayedPair(options: Parameters<typeof relay>[2] = {}) {
  // Half-open clients: a FIN from the relay must not make them end their own side.
  const left = await connectPair({ pauseOnConnect: true, clientAllowHalfOpen: true });
  const right = await connectPair({ pauseOnConnect: true, clientAllowHalfOpen: true });
  const relayed = relay(left.server, right.server, options);
  return { left, right, relayed };
}

const modes = ['kernel', 'forced copy', 'without the addon'] as const;

for (const mode of modes) {
  describe(`relay (${mode})`, () => {
    const open: SocketPair[] = [];
    let restore = () => {};
    const options = mode === 'forced copy' ? { method: 'copy' as const } : {};
    const expectedMethod = mode === 'kernel' ? 'splice' : 'copy';
    before(() => {
      getNative();
      if (mode === 'without the addon') restore = setNativeForTesting(null);
    });
    after(() => restore());
    afterEach(() => open.splice(0).forEach((p) => p.close()));

    it('carries 32 MiB each way at once, byte for byte, and reports the bytes', async () => {
      const { left, right, relayed } = await relayedPair(options);
      open.push(left, right);
      const fromRight = collect(left.client);
      const fromLeft = collect(right.client);
      const [sentLeft, sentRight] = await Promise.all([pump(left.client, 32 * MIB, 1), pump(right.client, 32 * MIB, 2)]);
      left.client.end();
      right.client.end();
      const result = await withTimeout(relayed, 30000, 'relay');
      assert.deepEqual({ aToB: result.aToB, bToA: result.bToA, method: result.method }, { aToB: 32 * MIB, bToA: 32 * MIB, method: expectedMethod });
      // Bulk streams fill the small-message buffer at once: nearly all of them is spliced.
      if (expectedMethod === 'splice') assert.ok(result.bytesCopied < 4 * MIB, `copied ${result.bytesCopied} of 64 MiB`);
      else assert.equal(result.bytesCopied, 64 * MIB);
      assert.equal((await fromLeft).sha256, sentLeft);
      assert.equal((await fromRight).sha256, sentRight);
    });

    it('passes a half-close on: the other side sees EOF and can still answer', async () => {
      const { left, right, relayed } = await relayedPair(options);
      open.push(left, right);
      left.client.end('request, then FIN');
      const upstream = await collect(right.client, { keep: true });
      assert.equal(upstream.ending, 'end', 'upstream saw EOF');
      assert.equal(upstream.data!.toString(), 'request, then FIN');
      const answer = collect(left.client, { keep: true });
      right.client.end('answer after the half-close');
      const got = await answer;
      assert.equal(got.data!.toString(), 'answer after the half-close');
      assert.equal(got.ending, 'end');
      const result = await withTimeout(relayed, 5000, 'relay');
      assert.equal(result.aToB, 17);
      assert.equal(result.bToA, 27);
    });

    it('tells onStart which path it took before moving a byte', async () => {
      const starts: unknown[] = [];
      let bytesWhenStarted = -1;
      const { left, right, relayed } = await relayedPair({
        ...options,
        onStart: (start) => {
          starts.push(start);
          bytesWhenStarted = right.client.bytesRead;
        },
      });
      open.push(left, right);
      left.client.end('ping');
      right.client.end();
      await collect(right.client);
      await withTimeout(relayed, 5000, 'relay');
      const expected = { kernel: { method: 'splice' }, 'forced copy': { method: 'copy', copyReason: 'forced' },
        'without the addon': { method: 'copy', copyReason: 'no-addon' } }[mode];
      assert.deepEqual(starts, [expected]);
      assert.equal(bytesWhenStarted, 0);
    });

    it('tears the other side down when one side resets', async () => {
      const { left, right, relayed } = await relayedPair(options);
      open.push(left, right);
      const upstreamClosed = collect(right.client);
      left.client.write('some bytes');
      await new Promise((resolve) => setTimeout(resolve, 50));
      left.client.resetAndDestroy();
      const error = await withTimeout(relayed.then(() => undefined, (e) => e), 5000, 'relay');
      assert.ok(error, 'the relay rejects');
      assert.ok(['ECONNRESET', 'EPIPE', 'ZC_ERR_SOCKET_CLOSED'].includes(error.code), error.code);
      const seen = await withTimeout(upstreamClosed, 5000, 'upstream close');
      assert.notEqual(seen.ending, 'end', 'upstream is reset, not given a clean EOF');
      assert.equal(seen.bytes, 10);
    });
  });
}

describe('relay in the kernel', () => {
  const open: SocketPair[] = [];
  afterEach(() => open.splice(0).forEach((p) => p.close()));

  it('forwards bytes Node had buffered before the takeover', async () => {
    const left = await connectPair(); // Node reads this one
    const right = await connectPair({ pauseOnConnect: true });
    open.push(left, right);
    left.client.write('early ');
    const [early] = (await once(left.server, 'data')) as [Buffer];
    left.server.pause();
    left.server.unshift(early);
    const relayed = relay(left.server, right.server);
    left.client.end('late');
    right.client.end();
    const got = await collect(right.client, { keep: true });
    assert.equal(got.data!.toString(), 'early late');
    assert.equal((await relayed).aToB, 10);
  });

  it('gives its pipes back and tears down when forwarding buffered bytes fails', async () => {
    const left = await connectPair(); // Node reads this one
    const right = await connectPair({ pauseOnConnect: true });
    open.push(left, right);
    left.client.write('buffered by Node');
    const [early] = (await once(left.server, 'data')) as [Buffer];
    left.server.pause();
    left.server.unshift(early);
    right.client.resetAndDestroy(); // Node is not reading right.server: it does not notice yet
    await new Promise((resolve) => setTimeout(resolve, 50));
    const pipePool = new PipePool({ maxPipes: 2 });
    const error = await withTimeout(relay(left.server, right.server, { pipePool }).then(() => undefined, (e) => e), 5000, 'relay');
    assert.ok(error, 'the relay rejects');
    assert.ok(left.server.destroyed && right.server.destroyed, 'both sides torn down');
    const pipes = [pipePool.acquire(), pipePool.acquire()];
    assert.ok(pipes.every(Boolean), 'both pipes are back in the pool');
    pipes.forEach((p) => pipePool.release(p!, 0));
    pipePool.drain();
  });

  it('copies both directions and counts it when the pool has no pipe left', async () => {
    const before = metrics().relays.copiedForLackOfPipes;
    const pipePool = new PipePool({ maxPipes: 1 });
    const starts: unknown[] = [];
    const { left, right, relayed } = await relayedPair({ pipePool, onStart: (start) => starts.push(start) });
    open.push(left, right);
    left.client.end('x'.repeat(1000));
    right.client.end('y'.repeat(2000));
    const result = await withTimeout(relayed, 5000, 'relay');
    assert.deepEqual(result, { aToB: 1000, bToA: 2000, method: 'copy', bytesCopied: 3000 });
    assert.equal(metrics().relays.copiedForLackOfPipes, before + 1);
    assert.deepEqual(starts, [{ method: 'copy', copyReason: 'no-pipe' }]);
  });

  it('gives up after idleTimeout ms without traffic', async () => {
    const { left, right, relayed } = await relayedPair({ idleTimeout: 100 });
    open.push(left, right);
    const error = await withTimeout(relayed.then(() => undefined, (e) => e), 5000, 'idle relay');
    assert.equal(error?.code, 'ZC_ERR_IDLE_TIMEOUT');
  });

  it('leaks no fd after 200 relays, some reset mid-stream', async () => {
    const pool = sharedPipePool();
    pool.drain(); // idle pooled pipes are not leaks: count without them
    const baseline = openFdCount();
    for (let i = 0; i < 200; i++) {
      const { left, right, relayed } = await relayedPair();
      if (i % 3 === 0) {
        left.client.write('abc');
        left.client.resetAndDestroy();
      } else {
        left.client.end('abc');
        right.client.end('def');
      }
      await withTimeout(relayed.catch(() => {}), 5000, `relay ${i}`);
      left.close();
      right.close();
    }
    pool.drain();
    await assertNoFdLeak(baseline);
    assert.equal(pool.size, 0, 'every pipe lent out came back');
  });
});
