/**
 * createStaticServer: limits against slow, stalled and greedy clients, the
 * access log, graceful shutdown, fd hygiene under aborts, truncation during
 * a send, and the open-file cache seeing a replaced file. Every wait is
 * bounded.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { createStaticServer, type StaticServer, type StaticServerOptions } from '../../src/http/faces/server.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../helpers/fixtures.js';
import { collect } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';
import { get, rawGet } from './static-helpers.js';

async function start(options: StaticServerOptions): Promise<{ server: StaticServer; port: number; base: string; closed: number[] }> {
  const server = createStaticServer(options);
  const closed: number[] = [];
  server.server.on('connection', (socket: net.Socket) => socket.once('close', () => closed.push(Date.now())));
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port, base: `http://127.0.0.1:${port}`, closed };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Resolves with ms until `socket` closes, or rejects after `limitMs`. */
function closesWithin(socket: net.Socket, limitMs: number, what: string): Promise<number> {
  const started = Date.now();
  if (socket.destroyed) return Promise.resolve(0);
  return withTimeout(once(socket, 'close').then(() => Date.now() - started), limitMs, what);
}

const hasCurl = spawnSync('curl', ['--version']).status === 0;

describe('createStaticServer', () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'root');
  let big: Fixture;
  let medium: Fixture;

  before(() => {
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'hello.txt'), 'Hello, world!\n');
    big = makeRandomFile(root, 'big.bin', 64 << 20);
    medium = makeRandomFile(root, 'medium.bin', 8 << 20);
  });
  after(() => tmp.remove());

  describe('limits', () => {
    it('answers a request head larger than maxHeaderSize with 431', async () => {
      const s = await start({ root, maxHeaderSize: 1024 });
      try {
        const r = await rawGet(s.port, '/hello.txt', `X-Big: ${'a'.repeat(2048)}\r\n`);
        assert.equal(r.status, 431);
        assert.equal((await get(`${s.base}/hello.txt`)).status, 200, 'normal requests still work');
      } finally {
        await s.server.close(1000);
      }
    });

    it('closes a slowloris client (a head trickling in) after headersTimeout with 408', async () => {
      const s = await start({ root, headersTimeout: 500, requestTimeout: 500 });
      try {
        const socket = await connect(s.port);
        const received: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        socket.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n');
        const drip = setInterval(() => socket.writable && socket.write('X-A: b\r\n'), 100);
        try {
          const ms = await closesWithin(socket, 4000, 'slowloris close');
          assert.ok(ms >= 400, `closed after ${ms} ms`);
        } finally {
          clearInterval(drip);
        }
        assert.match(Buffer.concat(received).toString('latin1'), /^HTTP\/1\.1 408 /);
      } finally {
        await s.server.close(1000);
      }
    });

    it('closes a connection that never sends a request after idleTimeout', async () => {
      const s = await start({ root, idleTimeout: 400 });
      try {
        const socket = await connect(s.port);
        const ms = await closesWithin(socket, 4000, 'idle close');
        assert.ok(ms >= 300, `closed after ${ms} ms`);
      } finally {
        await s.server.close(1000);
      }
    });

    it('closes a client that stops reading a sendfile body after idleTimeout (no byte moved), releasing the fd', async () => {
      const s = await start({ root, idleTimeout: 500, fileCache: { maxEntries: 0 } });
      try {
        await get(`${s.base}/big.bin`, { range: 'bytes=0-99999' }); // root fd and the addon's epoll are open from here on
        const fds = openFdCount();
        const socket = await connect(s.port);
        socket.pause(); // reads nothing: the kernel buffers fill and sendfile stalls
        socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
        await withTimeout(new Promise<void>((resolve) => {
          const poll = setInterval(() => {
            if (s.closed.length > 0) {
              clearInterval(poll);
              resolve();
            }
          }, 20);
        }), 6000, 'server closing the stalled connection');
        socket.destroy();
        await assertNoFdLeak(fds);
      } finally {
        await s.server.close(1000);
      }
    });

    it('closes an idle keep-alive connection after keepAliveTimeout', async () => {
      const s = await start({ root, keepAliveTimeout: 200 });
      try {
        const socket = await connect(s.port);
        socket.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
        socket.resume();
        // Node adds a fixed 1 s to the advertised keep-alive timeout before closing.
        const ms = await closesWithin(socket, 4000, 'keep-alive close');
        assert.ok(ms >= 150, `closed after ${ms} ms`);
      } finally {
        await s.server.close(1000);
      }
    });

    it('accepts at most maxConnections at once; a freed slot is usable again', async () => {
      const s = await start({ root, maxConnections: 2 });
      const sockets: net.Socket[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const socket = await connect(s.port);
          sockets.push(socket);
          socket.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
          await withTimeout(once(socket, 'data'), 3000, 'response on an accepted connection');
        }
        const third = await connect(s.port);
        const data: Buffer[] = [];
        third.on('data', (chunk: Buffer) => data.push(chunk));
        third.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
        await closesWithin(third, 3000, 'the connection over the limit being closed');
        assert.equal(Buffer.concat(data).length, 0, 'no response over the limit');
        sockets.shift()!.destroy();
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal((await get(`${s.base}/hello.txt`)).status, 200);
      } finally {
        for (const socket of sockets) socket.destroy();
        await s.server.close(1000);
      }
    });

    it('ignores a Range header with more parts than maxRanges (200)', async () => {
      const s = await start({ root, maxRanges: 2 });
      try {
        assert.equal((await get(`${s.base}/hello.txt`, { range: 'bytes=0-0,2-2,4-4' })).status, 200);
        assert.equal((await get(`${s.base}/hello.txt`, { range: 'bytes=0-0,2-2' })).status, 206);
      } finally {
        await s.server.close(1000);
      }
    });
  });

  describe('access log', () => {
    it('writes one Common Log Format line per response with bytes and the body method', async () => {
      const chunks: string[] = [];
      const s = await start({ root, log: (chunk) => chunks.push(chunk) });
      await get(`${s.base}/big.bin`, { range: 'bytes=0-999' });
      await get(`${s.base}/hello.txt`);
      await rawGet(s.port, '/hello.txt', '', 'HEAD');
      await get(`${s.base}/missing`);
      await rawGet(s.port, '/a"b');
      await s.server.close(1000);
      const lines = chunks.join('').trimEnd().split('\n');
      const clf = /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "(.*)" (\d{3}) (\d+|-) (\S+)$/;
      const parsed = lines.map((line) => clf.exec(line)?.slice(1));
      assert.deepEqual(parsed, [
        ['GET /big.bin HTTP/1.1', '206', '1000', 'sendfile'],
        ['GET /hello.txt HTTP/1.1', '200', '14', 'memory'],
        ['HEAD /hello.txt HTTP/1.1', '200', '-', 'none'],
        ['GET /missing HTTP/1.1', '404', parsed[3]![2]!, 'memory'],
        ['GET /a\\x22b HTTP/1.1', '404', parsed[4]![2]!, 'memory'],
      ]);
    });

    it("with logFormat: 'json' writes one JSON object per line", async () => {
      const chunks: string[] = [];
      const s = await start({ root, log: (chunk) => chunks.push(chunk), logFormat: 'json' });
      await get(`${s.base}/hello.txt`);
      await s.server.close(1000);
      const entry = JSON.parse(chunks.join('').trim());
      assert.equal(entry.method, 'GET');
      assert.equal(entry.url, '/hello.txt');
      assert.equal(entry.status, 200);
      assert.equal(entry.bytes, 14);
      assert.equal(entry.bodyMethod, 'memory');
      assert.equal(entry.completed, true);
    });
  });

  describe('CORS', () => {
    it('adds Access-Control-Allow-Origin: * and answers preflights with 204', async () => {
      const s = await start({ root, cors: true });
      try {
        const r = await get(`${s.base}/hello.txt`, { origin: 'http://example.com' });
        assert.equal(r.headers.get('access-control-allow-origin'), '*');
        assert.match(r.headers.get('access-control-expose-headers') ?? '', /Content-Range/);
        const pre = await get(`${s.base}/hello.txt`, { origin: 'http://example.com', 'access-control-request-method': 'GET' }, 'OPTIONS');
        assert.equal(pre.status, 204);
        assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, HEAD');
        assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Range/);
      } finally {
        await s.server.close(1000);
      }
    });
  });

  describe('graceful shutdown', () => {
    it('stops accepting, lets an in-flight download finish intact, then resolves', async () => {
      const s = await start({ root });
      const socket = await connect(s.port);
      const got = collect(socket, { bytesPerSecond: 48 << 20 });
      socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      await withTimeout(once(socket, 'data'), 3000, 'first bytes');
      const closing = s.server.close(10000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await assert.rejects(connect(s.port), /ECONNREFUSED/);
      const { destroyed } = await withTimeout(closing, 12000, 'graceful close');
      assert.equal(destroyed, 0);
      const received = await withTimeout(got, 5000, 'download end');
      assert.equal(received.ending, 'end', 'the server closed the connection after the response');
      const head = Buffer.byteLength(`HTTP/1.1 200 OK\r\n`);
      assert.ok(received.bytes > big.size + head);
    });

    it('destroys what is still running at the deadline', async () => {
      const s = await start({ root });
      const socket = await connect(s.port);
      socket.pause();
      socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      const { destroyed } = await withTimeout(s.server.close(300), 3000, 'close at the deadline');
      assert.equal(destroyed, 1);
      assert.ok(Date.now() - started < 2000);
      socket.destroy();
    });

    it('closes idle keep-alive connections at once', async () => {
      const s = await start({ root, keepAliveTimeout: 60000 });
      const socket = await connect(s.port);
      socket.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.resume();
      await withTimeout(once(socket, 'data'), 3000, 'response');
      const started = Date.now();
      await withTimeout(s.server.close(5000), 3000, 'close');
      assert.ok(Date.now() - started < 1000);
      await closesWithin(socket, 2000, 'idle connection closed');
    });
  });

  describe('aborted downloads', () => {
    it('after 1,000 aborted downloads (some with a pipelined request queued behind) the open-fd count is back to baseline', async () => {
      const s = await start({ root, fileCache: { maxEntries: 0 } });
      try {
        await get(`${s.base}/hello.txt`);
        const baseline = openFdCount();
        const abortOne = async (i: number) => {
          const socket = await connect(s.port);
          const request = 'GET /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n';
          socket.write(i % 4 === 0 ? request + request : request);
          await withTimeout(once(socket, 'data'), 5000, 'first bytes');
          socket.destroy();
        };
        const CONCURRENCY = 20;
        for (let i = 0; i < 1000; i += CONCURRENCY) {
          await Promise.all(Array.from({ length: CONCURRENCY }, (_, j) => abortOne(i + j)));
        }
        await assertNoFdLeak(baseline, 5000);
      } finally {
        await s.server.close(1000);
      }
    });
  });

  describe('a file that changes size during a send', () => {
    it('closes the connection instead of presenting a short body (fetch sees an error)', async () => {
      const copy = path.join(root, 'shrinks.bin');
      fs.copyFileSync(big.path, copy);
      const s = await start({ root });
      try {
        const response = await fetch(`${s.base}/shrinks.bin`, { signal: AbortSignal.timeout(10000) });
        assert.equal(response.headers.get('content-length'), String(big.size));
        const reader = response.body!.getReader();
        await reader.read();
        fs.truncateSync(copy, 1 << 20);
        await assert.rejects(async () => {
          for (;;) {
            const { done } = await reader.read();
            if (done) break;
          }
        });
      } finally {
        await s.server.close(1000);
        fs.rmSync(copy, { force: true });
      }
    });

    it('curl reports a partial transfer (exit 18)', { skip: hasCurl ? false : 'curl is not installed' }, async () => {
      const copy = path.join(root, 'shrinks-curl.bin');
      fs.copyFileSync(big.path, copy);
      const s = await start({ root });
      try {
        const curl = spawn('curl', ['-s', '-o', '/dev/null', '--limit-rate', '32M', '--max-time', '20', `${s.base}/shrinks-curl.bin`]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        fs.truncateSync(copy, 1 << 20);
        const [code] = await withTimeout(once(curl, 'exit'), 20000, 'curl');
        assert.equal(code, 18);
      } finally {
        await s.server.close(1000);
        fs.rmSync(copy, { force: true });
      }
    });
  });

  describe('open-file cache', () => {
    it('serves the new file once a replacement (new inode) is noticed, with a new ETag', async () => {
      const file = path.join(root, 'replaced.txt');
      fs.writeFileSync(file, 'old contents');
      fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
      const s = await start({ root, fileCache: { validMs: 100 } });
      try {
        const first = await get(`${s.base}/replaced.txt`);
        assert.equal(first.body.toString(), 'old contents');
        const cache = await s.server.handler.fileCache();
        const hits = cache.stats.hits;
        assert.equal((await get(`${s.base}/replaced.txt`)).body.toString(), 'old contents');
        assert.equal(cache.stats.hits, hits + 1, 'a hot file is a cache hit');
        fs.writeFileSync(`${file}.tmp`, 'new contents!');
        fs.renameSync(`${file}.tmp`, file);
        await new Promise((resolve) => setTimeout(resolve, 150));
        const second = await get(`${s.base}/replaced.txt`);
        assert.equal(second.body.toString(), 'new contents!');
        assert.notEqual(second.headers.get('etag'), first.headers.get('etag'));
        assert.equal(cache.stats.replaced, 1);
      } finally {
        await s.server.close(1000);
      }
    });
  });

  it('serves bodies intact to several concurrent clients', async () => {
    const s = await start({ root });
    try {
      const results = await Promise.all(Array.from({ length: 6 }, () => get(`${s.base}/medium.bin`)));
      for (const r of results) assert.equal(sha256(r.body), medium.sha256);
    } finally {
      await s.server.close(1000);
    }
  });
});
