import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';

import { collect } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';
import {
  asConnection,
  closedWithin,
  connectClient,
  MIB,
  startEchoUpstream,
  startProxy,
  startUpstream,
  type Upstream,
} from './harness.js';

const modes = ['kernel', 'forced copy'] as const;

/** Sends `text` and waits for the echo to come back through the proxy. */
async function roundTrip(client: net.Socket, text: string): Promise<void> {
  const echoed = new Promise<void>((resolve) => {
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) {
        client.off('data', onData);
        resolve();
      }
    };
    client.on('data', onData);
  });
  client.write(text);
  await withTimeout(echoed, 5000, `echo of ${text}`);
}

for (const mode of modes) {
  describe(`proxy limits and shutdown (${mode})`, () => {
    const method = mode === 'forced copy' ? ('copy' as const) : ('auto' as const);
    let echo: Upstream;
    const cleanup: Array<() => unknown> = [];
    before(async () => {
      echo = await startEchoUpstream();
    });
    after(() => echo.close());
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    describe('maxConnections', () => {
      it('turns away clients beyond the limit at once, logs them, and accepts again once one leaves', async () => {
        const started = await startProxy({ upstream: `127.0.0.1:${echo.port}`, method, maxConnections: 2 });
        cleanup.push(() => started.close());
        const first = await connectClient(started.port);
        const second = await connectClient(started.port);
        cleanup.push(() => first.destroy(), () => second.destroy());
        await roundTrip(first, 'one');
        await roundTrip(second, 'two');

        const third = await connectClient(started.port);
        const thirdPort = third.localPort;
        const ms = await withTimeout(closedWithin(third), 5000, 'third closed');
        assert.ok(ms < 1500, `closed after ${ms} ms`);
        const rejected = await started.nextRecord('rejected');
        assert.equal(rejected.reason, 'max-connections');
        assert.equal(rejected.limit, 2);
        assert.equal(rejected.client, `127.0.0.1:${thirdPort}`);
        assert.equal(started.proxy.connections, 2);

        first.end();
        await withTimeout(started.nextRecord('connection'), 5000, 'first closed');
        const fourth = await connectClient(started.port);
        cleanup.push(() => fourth.destroy());
        await roundTrip(fourth, 'four');
        await roundTrip(second, 'still here');
      });
    });

    describe('idleTimeout', () => {
      it('closes both sides after the idle timeout and logs idle-timeout', async () => {
        const upstream = await startUpstream();
        cleanup.push(() => upstream.close());
        const started = await startProxy({ upstream: `127.0.0.1:${upstream.port}`, method, idleTimeout: 200 });
        cleanup.push(() => started.close());
        const client = await connectClient(started.port);
        const server = await upstream.nextConnection();
        const serverSeen = collect(server);
        const ms = await withTimeout(closedWithin(client), 5000, 'idle close');
        // The guard checks progress every idleTimeout ms: it fires between 1× and 2× the timeout.
        assert.ok(ms >= 150 && ms < 200 * 2 + 1000, `closed after ${ms} ms`);
        await withTimeout(serverSeen, 5000, 'upstream closed');
        const record = asConnection(await started.nextRecord('connection'));
        assert.equal(record.outcome, 'idle-timeout');
        assert.equal(record.error, 'ZC_ERR_IDLE_TIMEOUT');
      });

      it('keeps a connection that trickles bytes open past the idle timeout', async () => {
        const started = await startProxy({ upstream: `127.0.0.1:${echo.port}`, method, idleTimeout: 300 });
        cleanup.push(() => started.close());
        const client = await connectClient(started.port);
        const began = Date.now();
        while (Date.now() - began < 1200) {
          await roundTrip(client, 'tick');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(started.proxy.connections, 1, 'still open after 4× the idle timeout');
        const done = collect(client);
        client.end();
        assert.equal((await withTimeout(done, 5000, 'end')).ending, 'end');
        assert.equal(asConnection(await started.nextRecord('connection')).outcome, 'closed');
      });
    });

    describe('close() (graceful drain)', () => {
      it('stops accepting at once and lets a live connection finish', async () => {
        const upstream = await startUpstream();
        cleanup.push(() => upstream.close());
        const started = await startProxy({ upstream: `127.0.0.1:${upstream.port}`, method });
        const client = await connectClient(started.port);
        const server = await upstream.nextConnection();
        const atServer = collect(server);
        client.write(Buffer.alloc(MIB, 1));

        const drained = started.proxy.close({ timeout: 10000 });
        const refused = await new Promise<string>((resolve) => {
          net.connect(started.port, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')).on('connect', () => resolve('connected'));
        });
        assert.equal(refused, 'ECONNREFUSED', 'no longer accepting');

        // The live connection keeps working both ways during the drain.
        await new Promise((resolve) => setTimeout(resolve, 100));
        client.end(Buffer.alloc(MIB, 2));
        const got = await withTimeout(atServer, 5000, 'upstream read');
        assert.equal(got.bytes, 2 * MIB);
        const atClient = collect(client, { keep: true });
        server.end('bye');
        assert.equal((await withTimeout(atClient, 5000, 'client read')).data!.toString(), 'bye');

        assert.deepEqual(await withTimeout(drained, 5000, 'drain'), { finished: 1, aborted: 0 });
        assert.equal(started.proxy.connections, 0);
        assert.equal(started.proxy.address(), null);
        assert.equal(asConnection(await started.nextRecord('connection')).outcome, 'closed');
      });

      it('cuts connections still live at the deadline and reports them', async () => {
        const started = await startProxy({ upstream: `127.0.0.1:${echo.port}`, method });
        const client = await connectClient(started.port);
        await roundTrip(client, 'hello');
        const began = Date.now();
        const drained = await withTimeout(started.proxy.close({ timeout: 200 }), 5000, 'drain');
        assert.deepEqual(drained, { finished: 0, aborted: 1 });
        assert.ok(Date.now() - began < 1500, 'the deadline was kept');
        await withTimeout(closedWithin(client), 5000, 'client closed');
        const record = asConnection(await started.nextRecord('connection'));
        assert.equal(record.outcome, 'drain-deadline');
        assert.equal(record.toUpstream, 5);
      });

      it('brings the deadline forward when called again with a shorter timeout', async () => {
        const started = await startProxy({ upstream: `127.0.0.1:${echo.port}`, method });
        const client = await connectClient(started.port);
        await roundTrip(client, 'hello');
        const first = started.proxy.close({ timeout: 60000 });
        const second = started.proxy.close({ timeout: 0 });
        assert.equal(first, second, 'one drain');
        assert.deepEqual(await withTimeout(first, 5000, 'drain'), { finished: 0, aborted: 1 });
        await withTimeout(closedWithin(client), 5000, 'client closed');
      });

      it('resolves at once when nothing is live', async () => {
        const started = await startProxy({ upstream: `127.0.0.1:${echo.port}`, method });
        assert.deepEqual(await withTimeout(started.proxy.close(), 2000, 'drain'), { finished: 0, aborted: 0 });
      });
    });
  });
}
