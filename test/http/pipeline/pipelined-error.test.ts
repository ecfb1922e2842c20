/**
 * Issue 8 §5: a malformed request pipelined behind a GET whose body is still
 * being sent. Node's socketOnError (Node 20 _http_server.js; the
 * headersTimeout 408 goes through the same function) writes its own
 * `HTTP/1.1 400 Bad Request` unless the response in flight has
 * `_headerSent`; in headerMode 'prefix' the head leaves inside the sendfile
 * job, so Node must be told before the job starts. The connection must then
 * close with the body cut cleanly, never with Node's bytes inside it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { hashFileRange, makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { withTimeout } from '../../helpers/process.js';
import { serveStatic, type StaticHandler } from '../../../src/http/faces/middleware.js';
import { startStatic, type StaticTestServer } from '../static-helpers.js';

const ROUNDS = 10;

/**
 * GET `target`, then (once the response has begun) `second` on the same
 * connection; reads slowly, pausing `pauseMs` per chunk, until the server
 * closes. Slow, so that Node's own write (a 400 or 408) would find room in
 * the socket while the body is still in flight.
 */
async function getThen(port: number, target: string, second: string, pauseMs: number): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const chunks: Buffer[] = [];
  let sent = false;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    if (!sent) {
      sent = true;
      socket.write(second);
    }
    socket.pause();
    setTimeout(() => socket.resume(), pauseMs);
  });
  socket.on('error', () => {});
  await withTimeout(once(socket, 'close'), 30000, 'the connection to close');
  return Buffer.concat(chunks);
}

for (const headerMode of ['prefix', 'cork'] as const) {
  describe(`a malformed request pipelined behind an 8 MiB body (headerMode '${headerMode}', issue 8 §5)`, () => {
    const tmp = makeTempDir();
    let big: Fixture;
    let s: StaticTestServer;

    before(async () => {
      big = makeRandomFile(tmp.dir, 'big.bin', 8 << 20);
      s = await startStatic(tmp.dir, { headerMode });
    });
    after(async () => {
      await s.close();
      tmp.remove();
    });

    it(`the body received is a byte-exact prefix of the file and never carries Node's 400, ${ROUNDS} times`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const raw = await getThen(s.port, '/big.bin', 'GARBAGE / HTTP/1.1\r\n\r\n', 1); // an invalid method: a parse error on Node's side
        const headEnd = raw.indexOf('\r\n\r\n');
        assert.match(raw.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
        const body = raw.subarray(headEnd + 4);
        assert.equal(raw.indexOf('HTTP/1.1 400'), -1, `round ${round}: no 400 inside the body`);
        assert.ok(body.length <= big.size);
        assert.equal(sha256(body), hashFileRange(big.path, 0, body.length), `round ${round}: the ${body.length} bytes received are the file's first ones`);
      }
    });
  });
}

/**
 * The same with Node's headersTimeout: a second request's head started
 * behind the GET and never finished. Node's connection checker
 * (checkConnections → onRequestTimeout → socketOnError) answers 408 the same
 * way unless the response in flight counts as sent.
 */
for (const headerMode of ['prefix', 'cork'] as const) {
  describe(`a request head left unfinished behind an 8 MiB body until headersTimeout (headerMode '${headerMode}', issue 8 §5)`, () => {
    const tmp = makeTempDir();
    let big: Fixture;
    let server: http.Server;
    let handler: StaticHandler;
    let port: number;

    before(async () => {
      big = makeRandomFile(tmp.dir, 'big.bin', 8 << 20);
      handler = serveStatic(tmp.dir, { headerMode });
      server = http.createServer({ headersTimeout: 200, requestTimeout: 400, connectionsCheckingInterval: 50 } as http.ServerOptions, (req, res) => {
        void handler(req, res);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as net.AddressInfo).port;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await handler.close();
      tmp.remove();
    });

    it('the body received is a byte-exact prefix of the file and never carries Node\'s 408, 3 times', async () => {
      for (let round = 0; round < 3; round++) {
        // A head that never ends, read slowly enough that the body is still in flight when it expires.
        const raw = await getThen(port, '/big.bin', 'GET /next HTTP/1.1\r\nHost: 127.0.0.1\r\n', 10);
        const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
        assert.equal(raw.indexOf('HTTP/1.1 408'), -1, `round ${round}: no 408 inside the body`);
        assert.ok(body.length < big.size, `round ${round}: the expired connection was cut (${body.length} bytes)`);
        assert.equal(sha256(body), hashFileRange(big.path, 0, body.length), `round ${round}: a byte-exact prefix`);
      }
    });
  });
}
