/**
 * sendFileResponse(req, res, path, options): one file, like Express's
 * res.sendFile, with serveStatic's semantics and a sendfile body.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { cachedRootCount, closeCachedRoots, MAX_OPEN_ROOTS } from '../../../src/http/pipeline/root-cache.js';
import { sendFileResponse, type SendFileResponseOptions } from '../../../src/http/faces/send-file.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { settleCount } from '../../helpers/process.js';
import { get, rawGet, recordTransfers } from '../static-helpers.js';

describe('sendFileResponse', () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'files');
  let big: Fixture;
  let server: http.Server;
  let base: string;
  let port: number;
  /** What the route does: which path, which options; rejections are answered with their status. */
  let route: { file: string; options: SendFileResponseOptions } = { file: '', options: {} };
  const rejections: any[] = [];

  before(async () => {
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'hello.txt'), 'Hello, world!\n');
    fs.writeFileSync(path.join(root, '.env'), 'SECRET=1');
    fs.writeFileSync(path.join(tmp.dir, 'outside.txt'), 'outside');
    big = makeRandomFile(root, 'big.bin', (2 << 20) + 1);
    server = http.createServer((req, res) => {
      sendFileResponse(req, res, route.file, route.options).catch((error) => {
        rejections.push(error);
        res.writeHead(error.status ?? 500, { 'X-Rejected': String(res.headersSent) }).end(`rejected ${error.status ?? error.code}`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    tmp.remove();
  });

  it('sends an absolute path with validators and a sendfile body', async () => {
    route = { file: big.path, options: { maxAge: '1h' } };
    const rec = recordTransfers();
    try {
      const r = await get(base);
      assert.equal(r.status, 200);
      assert.equal(sha256(r.body), big.sha256);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=3600');
      assert.match(r.headers.get('etag') ?? '', /^"[0-9a-f]+(\.[0-9a-f]+)?-200001"$/);
      // The last byte is held back until the file is proven unchanged (write-body.ts).
      assert.deepEqual(rec.transfers.map((t) => [t.method, t.bytes]), [['sendfile', big.size - 1]]);
    } finally {
      rec.stop();
    }
  });

  it('honours Range, If-None-Match and HEAD', async () => {
    route = { file: big.path, options: {} };
    const data = fs.readFileSync(big.path);
    const ranged = await get(base, { range: 'bytes=100-199' });
    assert.equal(ranged.status, 206);
    assert.deepEqual(ranged.body, data.subarray(100, 200));
    assert.equal((await get(base, { 'if-none-match': ranged.headers.get('etag')! })).status, 304);
    const head = await rawGet(port, '/', '', 'HEAD');
    assert.equal(head.headers['content-length'], String(big.size));
    assert.equal(head.body.length, 0);
  });

  it('with root, resolves a URL-style path beneath it and sets the given headers', async () => {
    route = { file: 'hello.txt', options: { root, headers: { 'Content-Disposition': 'attachment; filename="hello.txt"' } } };
    const r = await get(base);
    assert.equal(r.body.toString(), 'Hello, world!\n');
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.headers.get('content-disposition'), 'attachment; filename="hello.txt"');
  });

  it('with root, refuses a path that climbs out (403, as send) without touching the response', async () => {
    route = { file: '../outside.txt', options: { root } };
    const r = await get(base);
    assert.equal(r.status, 403);
    assert.equal(r.body.toString(), 'rejected 403');
    assert.equal(r.headers.get('x-rejected'), 'false');
  });

  it('rejects a missing file with status 404 and the system error as cause', async () => {
    route = { file: path.join(root, 'missing.txt'), options: {} };
    rejections.length = 0;
    assert.equal((await get(base)).status, 404);
    assert.equal(rejections[0].code, 'ZC_ERR_HTTP_STATUS');
    assert.equal(rejections[0].cause.code, 'ENOENT');
  });

  it('rejects a directory with 404', async () => {
    route = { file: root, options: {} };
    assert.equal((await get(base)).status, 404);
  });

  it("rejects a dotfile with 404 by default, 403 with dotfiles: 'deny', and sends it with 'allow'", async () => {
    route = { file: path.join(root, '.env'), options: {} };
    assert.equal((await get(base)).status, 404);
    route = { file: path.join(root, '.env'), options: { dotfiles: 'deny' } };
    assert.equal((await get(base)).status, 403);
    route = { file: path.join(root, '.env'), options: { dotfiles: 'allow' } };
    assert.equal((await get(base)).body.toString(), 'SECRET=1');
  });

  it('rejects a relative path without root with a TypeError (ZC_ERR_INVALID_ARG)', async () => {
    route = { file: 'hello.txt', options: {} };
    rejections.length = 0;
    assert.equal((await get(base)).status, 500);
    assert.equal(rejections[0].code, 'ZC_ERR_INVALID_ARG');
    assert.ok(rejections[0] instanceof TypeError);
  });
});

describe('sendFileResponse root cache (issue 8 §4)', () => {
  const tmp = makeTempDir();
  const ROOTS = MAX_OPEN_ROOTS + 1;
  const rootOf = (n: number) => path.join(fs.realpathSync(tmp.dir), `r${n}`);
  let server: http.Server;
  let base: string;

  /** fds of this process open on exactly `dir` (the root's O_PATH fd). */
  const fdsOnRoot = (dir: string) => fs.readdirSync('/proc/self/fd').filter((name) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${name}`) === dir;
    } catch {
      return false;
    }
  }).length;
  const rootFds = () => Array.from({ length: ROOTS }, (_, n) => fdsOnRoot(rootOf(n)));
  const openRootFds = () => rootFds().reduce((a, b) => a + b, 0);

  before(async () => {
    for (let n = 0; n < ROOTS; n++) {
      fs.mkdirSync(rootOf(n));
      fs.writeFileSync(path.join(rootOf(n), 'hello.txt'), `root ${n}`);
    }
    closeCachedRoots();
    server = http.createServer((req, res) => {
      const n = Number(req.url!.slice(1));
      sendFileResponse(req, res, 'hello.txt', { root: rootOf(n) }).catch((error) => res.writeHead(error.status ?? 500).end(String(error.code)));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    closeCachedRoots();
    tmp.remove();
  });

  it(`${10 * ROOTS} requests over ${ROOTS} roots leave at most ${MAX_OPEN_ROOTS} root fds open, one per root, and none once the cache is cleared`, async () => {
    for (let i = 0; i < 10 * ROOTS; i++) {
      const n = i % ROOTS; // round robin: the worst case for an LRU of MAX_OPEN_ROOTS
      assert.equal((await get(`${base}/${n}`)).body.toString(), `root ${n}`);
    }
    assert.equal(await settleCount(openRootFds, MAX_OPEN_ROOTS), MAX_OPEN_ROOTS);
    const open = rootFds();
    assert.ok(open.every((count) => count <= 1), `one fd per root at most: ${open}`);
    assert.equal(open.reduce((a, b) => a + b, 0), MAX_OPEN_ROOTS);
    assert.equal(cachedRootCount(), MAX_OPEN_ROOTS);
    closeCachedRoots();
    assert.equal(await settleCount(openRootFds, 0), 0);
  });

  it('evicts the least recently used root, not the first inserted', async () => {
    closeCachedRoots();
    for (let n = 0; n < MAX_OPEN_ROOTS; n++) await get(`${base}/${n}`);
    await get(`${base}/0`); // r0 is now the most recently used; r1 the least
    await get(`${base}/${MAX_OPEN_ROOTS}`);
    await settleCount(openRootFds, MAX_OPEN_ROOTS); // an evicted root closes after its promise settles
    const open = rootFds();
    assert.equal(open[0], 1, 'r0 stays open');
    assert.equal(open[1], 0, 'r1 was evicted and closed');
    closeCachedRoots();
  });

  it(`${ROOTS} concurrent requests over ${ROOTS} roots all succeed: a root evicted while a request resolves beneath it closes only afterwards`, async () => {
    for (let round = 0; round < 20; round++) {
      closeCachedRoots();
      const replies = await Promise.all(Array.from({ length: ROOTS }, (_, n) => get(`${base}/${n}`)));
      assert.deepEqual(replies.map((r) => r.body.toString()), Array.from({ length: ROOTS }, (_, n) => `root ${n}`));
    }
    closeCachedRoots();
    assert.equal(await settleCount(openRootFds, 0), 0);
  });
});
