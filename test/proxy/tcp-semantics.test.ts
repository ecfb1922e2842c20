import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';

import { getNative, setNativeForTesting } from '../../src/native/capabilities.js';
import { collect } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';
import {
  asConnection,
  closedWithin,
  connectClient,
  MIB,
  pump,
  startProxy,
  startUpstream,
  type StartedProxy,
  type Upstream,
} from './harness.js';

const modes = ['kernel', 'forced copy', 'without the addon'] as const;

/** Reads exactly `length` bytes from a socket that Node reads. */
function readBytes(socket: net.Socket, length: number): Promise<Buffer> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let got = 0;
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        got += chunk.length;
        if (got >= length) {
          socket.off('data', onData);
          const all = Buffer.concat(chunks);
          if (all.length > length) socket.unshift(all.subarray(length));
          socket.pause();
          resolve(all.subarray(0, length));
        }
      };
      socket.on('data', onData);
      socket.resume();
      socket.once('close', () => reject(new Error(`closed after ${got} of ${length} bytes`)));
    }),
    10000,
    `${length} bytes`,
  );
}

for (const mode of modes) {
  describe(`proxy TCP semantics (${mode})`, () => {
    let restore = () => {};
    const method = mode === 'forced copy' ? ('copy' as const) : ('auto' as const);
    const expected = mode === 'kernel' ? { method: 'splice' } : mode === 'forced copy' ? { method: 'copy', copyReason: 'forced' }
      : { method: 'copy', copyReason: 'no-addon' };
    const cleanup: Array<() => unknown> = [];
    before(() => {
      getNative();
      if (mode === 'without the addon') restore = setNativeForTesting(null);
    });
    after(() => restore());
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    async function setUp(options: { proxyProtocol?: 1 | 2; upstreamHost?: string; listen?: string } = {}) {
      const upstream: Upstream = await startUpstream(undefined, options.upstreamHost);
      cleanup.push(() => upstream.close());
      const host = options.upstreamHost ?? '127.0.0.1';
      const started: StartedProxy = await startProxy({
        upstream: `${host.includes(':') ? `[${host}]` : host}:${upstream.port}`,
        method,
        ...(options.listen ? { listen: options.listen } : {}),
        ...(options.proxyProtocol ? { proxyProtocol: options.proxyProtocol } : {}),
      });
      cleanup.push(() => started.close());
      return { upstream, started };
    }

    it('carries 32 MiB each way at once, byte for byte, and logs the bytes and the method', async () => {
      const { upstream, started } = await setUp();
      const client = await connectClient(started.port);
      const clientPort = client.localPort;
      const server = await upstream.nextConnection();
      const atUpstream = collect(server);
      const atClient = collect(client);
      const [sentUp, sentDown] = await withTimeout(Promise.all([pump(client, 32 * MIB, 1), pump(server, 32 * MIB, 2)]), 60000, 'pumps');
      client.end();
      server.end();
      const [up, down] = await withTimeout(Promise.all([atUpstream, atClient]), 60000, 'collect');
      assert.equal(up.sha256, sentUp);
      assert.equal(down.sha256, sentDown);
      assert.equal(up.ending, 'end');
      assert.equal(down.ending, 'end');
      const record = asConnection(await started.nextRecord('connection'));
      assert.equal(record.toUpstream, 32 * MIB);
      assert.equal(record.toClient, 32 * MIB);
      assert.equal(record.outcome, 'closed');
      assert.deepEqual({ method: record.method, ...(record.copyReason ? { copyReason: record.copyReason } : {}) }, expected);
      assert.equal(record.upstream, `127.0.0.1:${upstream.port}`);
      assert.equal(record.client, `127.0.0.1:${clientPort}`);
    });

    it('passes a client half-close on: the upstream sees EOF and can still answer', async () => {
      const { upstream, started } = await setUp();
      const client = await connectClient(started.port);
      const server = await upstream.nextConnection();
      client.end('request, then FIN');
      const request = await withTimeout(collect(server, { keep: true }), 5000, 'upstream read');
      assert.equal(request.ending, 'end', 'the upstream saw EOF');
      assert.equal(request.data!.toString(), 'request, then FIN');
      assert.equal(server.writable, true, 'the upstream can still write');
      const answer = collect(client, { keep: true });
      server.write('answer after');
      await new Promise((resolve) => setTimeout(resolve, 50));
      server.end(' the half-close');
      const got = await withTimeout(answer, 5000, 'client read');
      assert.equal(got.data!.toString(), 'answer after the half-close');
      assert.equal(got.ending, 'end');
      const record = asConnection(await started.nextRecord('connection'));
      assert.deepEqual([record.toUpstream, record.toClient, record.outcome], [17, 27, 'closed']);
    });

    it('passes an upstream half-close on: the client sees EOF and can still send', async () => {
      const { upstream, started } = await setUp();
      const client = await connectClient(started.port);
      const server = await upstream.nextConnection();
      server.end('greeting, then FIN');
      const greeting = await withTimeout(collect(client, { keep: true }), 5000, 'client read');
      assert.equal(greeting.ending, 'end');
      assert.equal(greeting.data!.toString(), 'greeting, then FIN');
      const rest = collect(server, { keep: true });
      client.end('still talking');
      const got = await withTimeout(rest, 5000, 'upstream read');
      assert.equal(got.data!.toString(), 'still talking');
      assert.equal(got.ending, 'end');
      const record = asConnection(await started.nextRecord('connection'));
      assert.equal(record.outcome, 'closed');
    });

    it('tears the upstream down when the client resets', async () => {
      const { upstream, started } = await setUp();
      const client = await connectClient(started.port);
      const server = await upstream.nextConnection();
      const seen = collect(server);
      client.write('some bytes');
      await withTimeout(new Promise((resolve) => server.once('data', resolve)), 5000, 'first bytes');
      client.resetAndDestroy();
      const result = await withTimeout(seen, 5000, 'upstream close');
      assert.notEqual(result.ending, 'end', 'the upstream is reset, not given a clean EOF');
      const record = asConnection(await started.nextRecord('connection'));
      assert.equal(record.outcome, 'reset');
      assert.equal(record.toUpstream, 10);
    });

    it('tears the client down when the upstream resets', async () => {
      const { upstream, started } = await setUp();
      const client = await connectClient(started.port);
      const server = await upstream.nextConnection();
      const seen = collect(client);
      server.write('hello');
      await withTimeout(new Promise((resolve) => client.once('data', resolve)), 5000, 'first bytes');
      server.resetAndDestroy();
      const result = await withTimeout(seen, 5000, 'client close');
      assert.notEqual(result.ending, 'end', 'the client is reset, not given a clean EOF');
      assert.ok((await withTimeout(closedWithin(client), 5000, 'client closed')) >= 0);
      const record = asConnection(await started.nextRecord('connection'));
      assert.equal(record.outcome, 'reset');
    });

    for (const version of [1, 2] as const) {
      it(`writes a PROXY protocol v${version} header before the client's first byte`, async () => {
        const { upstream, started } = await setUp({ proxyProtocol: version });
        const client = await connectClient(started.port);
        const clientPort = client.localPort!;
        // Sent at once: these bytes wait in the kernel while the proxy dials.
        const body = Buffer.alloc(1 * MIB, 7);
        client.end(body);
        const server = await upstream.nextConnection();
        const expected = version === 1
          ? Buffer.from(`PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${started.port}\r\n`)
          : Buffer.concat([
            Buffer.from('0d0a0d0a000d0a515549540a2111000c7f0000017f000001', 'hex'),
            Buffer.from([clientPort >> 8, clientPort & 0xff, started.port >> 8, started.port & 0xff]),
          ]);
        const got = await withTimeout(collect(server, { keep: true }), 10000, 'upstream read');
        assert.equal(got.data!.subarray(0, expected.length).toString('hex'), expected.toString('hex'));
        assert.equal(got.bytes, expected.length + body.length);
        assert.ok(got.data!.subarray(expected.length).equals(body), 'the client bytes follow the header intact');
        server.end();
        const record = asConnection(await started.nextRecord('connection'));
        assert.equal(record.toUpstream, body.length, 'the header is not counted as relayed bytes');
      });
    }

    it('describes an IPv6 client as TCP6 in a PROXY v1 header', async () => {
      const { upstream, started } = await setUp({ proxyProtocol: 1, upstreamHost: '::1', listen: '[::1]:0' });
      const client = await connectClient(started.port, '::1');
      const clientPort = client.localPort;
      client.end('x');
      const server = await upstream.nextConnection();
      const got = await withTimeout(collect(server, { keep: true }), 5000, 'upstream read');
      assert.equal(got.data!.toString(), `PROXY TCP6 ::1 ::1 ${clientPort} ${started.port}\r\nx`);
      server.end();
    });

    it('relays an upstream that speaks first (a banner before any client byte, like SMTP or SSH)', async () => {
      const { upstream, started } = await setUp();
      const client = await connectClient(started.port);
      const server = await upstream.nextConnection();
      server.write('220 ready\r\n');
      assert.equal((await readBytes(client, 11)).toString(), '220 ready\r\n');
      client.write('QUIT\r\n');
      assert.equal((await readBytes(server, 6)).toString(), 'QUIT\r\n');
      const rest = collect(client, { keep: true });
      client.resume(); // readBytes left it paused
      server.end('221 bye\r\n');
      client.end();
      assert.equal((await withTimeout(rest, 5000, 'client read')).data!.toString(), '221 bye\r\n');
      const record = asConnection(await started.nextRecord('connection'));
      assert.deepEqual([record.toUpstream, record.toClient, record.outcome], [6, 20, 'closed']);
    });

    it('forwards a request/response exchange byte-exact in both directions', async () => {
      const { upstream, started } = await setUp();
      const client = await connectClient(started.port);
      const server = await upstream.nextConnection();
      for (let i = 0; i < 5; i++) {
        const request = Buffer.from(`request ${i} `.repeat(10));
        client.write(request);
        assert.ok((await readBytes(server, request.length)).equals(request));
        const response = Buffer.from(`response ${i} `.repeat(20));
        server.write(response);
        assert.ok((await readBytes(client, response.length)).equals(response));
      }
      client.end();
      server.end();
      const record = asConnection(await started.nextRecord('connection'));
      assert.equal(record.outcome, 'closed');
    });
  });
}
