/**
 * serveStatic over real sockets, with fetch (undici) and a raw client:
 * the HTTP semantics of issue 3, each with exact outcomes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';

import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { pipeline } from '../../helpers/http.js';
import { withTimeout } from '../../helpers/process.js';
import { bodiesAfter, get, parseMultipart, rawGet, recordTransfers, startStatic, type StaticTestServer } from '../static-helpers.js';

/** 2023-11-14T22:13:20Z: a fixed mtime so validators are known in advance. */
const MTIME_S = 1_700_000_000;
const MTIME_HTTP = 'Tue, 14 Nov 2023 22:13:20 GMT';

describe('serveStatic', () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'root');
  let big: Fixture;
  let bigData: Buffer;
  let small: Fixture;
  let s: StaticTestServer;

  const write = (name: string, data: string | Buffer) => {
    const file = path.join(root, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data);
    fs.utimesSync(file, MTIME_S, MTIME_S);
  };

  before(async () => {
    fs.mkdirSync(root, { recursive: true });
    write('hello.txt', 'Hello, world!\n');
    write('index.html', '<h1>root index</h1>\n');
    write('about.html', '<h1>about</h1>\n');
    write('empty.txt', '');
    write('dir/index.html', '<h1>dir index</h1>\n');
    write('bare/a.txt', 'a');
    write('bare/<img src=x onerror=alert(1)>.txt', 'x');
    write('bare/.secret', 'hidden');
    fs.mkdirSync(path.join(root, 'bare', 'sub & more'));
    write('.env', 'SECRET=1');
    write('.hidden/file.txt', 'in a dot directory');
    write('naïve café.txt', 'unicode name');
    write('app.js', 'console.log("identity");\n'.repeat(50));
    write('app.js.br', zlib.brotliCompressSync(fs.readFileSync(path.join(root, 'app.js'))));
    write('app.js.gz', zlib.gzipSync(fs.readFileSync(path.join(root, 'app.js'))));
    write('style.css', 'body { color: red }\n'.repeat(40));
    write('style.css.gz', zlib.gzipSync(fs.readFileSync(path.join(root, 'style.css'))));
    big = makeRandomFile(root, 'big.bin', (1 << 20) + 7);
    fs.utimesSync(big.path, MTIME_S, MTIME_S);
    bigData = fs.readFileSync(big.path);
    small = makeRandomFile(root, 'small.bin', 4096);
    fs.utimesSync(small.path, MTIME_S, MTIME_S);
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    s = await startStatic(root);
  });
  after(async () => {
    await s.close();
    tmp.remove();
  });

  describe('GET and HEAD', () => {
    it('sends a text file with Content-Type and charset, Content-Length, Accept-Ranges, Last-Modified, ETag and Cache-Control', async () => {
      const r = await get(`${s.base}/hello.txt`);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'Hello, world!\n');
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(r.headers.get('content-length'), '14');
      assert.equal(r.headers.get('accept-ranges'), 'bytes');
      assert.equal(r.headers.get('last-modified'), MTIME_HTTP);
      assert.equal(r.headers.get('etag'), '"6553f100-e"');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=0');
    });

    it('sends a 1 MiB file byte for byte with sendfile, the last byte held back until the file is proven unchanged', async () => {
      const rec = recordTransfers();
      const before = s.bodies.length;
      try {
        const r = await get(`${s.base}/big.bin`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), 'application/octet-stream');
        assert.equal(sha256(r.body), big.sha256);
        assert.deepEqual(rec.transfers.map((t) => [t.method, t.bytes]), [['sendfile', big.size - 1]]);
        assert.deepEqual(await bodiesAfter(s.bodies, before), [{ bytes: big.size, method: 'sendfile' }]);
      } finally {
        rec.stop();
      }
    });

    it('sends a small file from memory in one write', async () => {
      const before = s.bodies.length;
      const r = await get(`${s.base}/small.bin`);
      assert.equal(sha256(r.body), small.sha256);
      assert.deepEqual(await bodiesAfter(s.bodies, before), [{ bytes: 4096, method: 'memory' }]);
    });

    it('answers HEAD with the same head and no body', async () => {
      const r = await rawGet(s.port, '/big.bin', '', 'HEAD');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(big.size));
      assert.equal(r.headers['etag'], `"6553f100-${big.size.toString(16)}"`);
      assert.equal(r.raw.length, r.raw.indexOf('\r\n\r\n') + 4, 'nothing after the head');
    });

    it('sends an empty file as 200 with Content-Length: 0', async () => {
      const r = await get(`${s.base}/empty.txt`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-length'), '0');
      assert.equal(r.body.length, 0);
    });

    it('serves a Unicode file name given percent-encoded', async () => {
      const r = await get(`${s.base}/na%C3%AFve%20caf%C3%A9.txt`);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'unicode name');
    });

    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      it(`answers ${method} with 405 and Allow: GET, HEAD`, async () => {
        const r = await get(`${s.base}/hello.txt`, {}, method);
        assert.equal(r.status, 405);
        assert.equal(r.headers.get('allow'), 'GET, HEAD');
      });
    }

    it('answers a missing file with 404 and a fixed page that names no path', async () => {
      const r = await get(`${s.base}/missing.txt`);
      assert.equal(r.status, 404);
      assert.equal(r.headers.get('content-security-policy'), "default-src 'none'");
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(r.body.toString(), /<pre>Not Found<\/pre>/);
      assert.doesNotMatch(r.body.toString(), /ENOENT|missing\.txt|\/tmp/);
    });

    it('answers a FIFO in the root with 404 without hanging', async () => {
      const r = await withTimeout(get(`${s.base}/fifo`), 5000, 'GET /fifo');
      assert.equal(r.status, 404);
    });

    it('answers a Unix socket in the root with 404', async () => {
      const listener = net.createServer().listen(path.join(root, 'unix.sock'));
      await once(listener, 'listening');
      try {
        assert.equal((await get(`${s.base}/unix.sock`)).status, 404);
      } finally {
        listener.close();
      }
    });

    it('answers a file requested with a trailing slash with 404', async () => {
      assert.equal((await get(`${s.base}/hello.txt/`)).status, 404);
    });
  });

  describe('ETag', () => {
    it('is strong by default, nginx format "<mtime s hex>-<size hex>"', async () => {
      const r = await get(`${s.base}/big.bin`, {}, 'HEAD');
      assert.equal(r.headers.get('etag'), `"${MTIME_S.toString(16)}-${big.size.toString(16)}"`);
    });

    it("with etag: 'weak' is send's W/\"<size hex>-<mtime ms hex>\"", async () => {
      const w = await startStatic(root, { etag: 'weak' });
      try {
        const r = await get(`${w.base}/hello.txt`);
        assert.equal(r.headers.get('etag'), `W/"e-${(MTIME_S * 1000).toString(16)}"`);
      } finally {
        await w.close();
      }
    });

    it('with etag: false is not sent, and Last-Modified then validates alone', async () => {
      const w = await startStatic(root, { etag: false });
      try {
        const r = await get(`${w.base}/hello.txt`);
        assert.equal(r.headers.get('etag'), null);
        assert.equal((await get(`${w.base}/hello.txt`, { 'if-modified-since': MTIME_HTTP })).status, 304);
      } finally {
        await w.close();
      }
    });
  });

  describe('Cache-Control', () => {
    const cases: [string, Parameters<typeof startStatic>[1], string | null][] = [
      ['maxAge in milliseconds', { maxAge: 3_600_000 }, 'public, max-age=3600'],
      ["maxAge as a duration string '1d'", { maxAge: '1d' }, 'public, max-age=86400'],
      ['maxAge beyond a year, capped', { maxAge: '5y' }, 'public, max-age=31536000'],
      ['immutable', { maxAge: '1y', immutable: true }, 'public, max-age=31536000, immutable'],
      ['cacheControl: false', { cacheControl: false, maxAge: 1000 }, null],
    ];
    for (const [name, options, expected] of cases) {
      it(`with ${name} → ${expected ?? 'no header'}`, async () => {
        const w = await startStatic(root, options);
        try {
          assert.equal((await get(`${w.base}/hello.txt`)).headers.get('cache-control'), expected);
        } finally {
          await w.close();
        }
      });
    }

    it('keeps a Cache-Control that setHeaders set, and passes it (res, absolute path, stats)', async () => {
      const seen: string[] = [];
      const w = await startStatic(root, {
        setHeaders: (res, file, stats) => {
          seen.push(`${file}:${stats.size}`);
          res.setHeader('Cache-Control', 'no-store');
          res.setHeader('X-Served-By', 'zerocopy');
        },
      });
      try {
        const r = await get(`${w.base}/hello.txt`);
        assert.equal(r.headers.get('cache-control'), 'no-store');
        assert.equal(r.headers.get('x-served-by'), 'zerocopy');
        assert.deepEqual(seen, [`${path.join(root, 'hello.txt')}:14`]);
      } finally {
        await w.close();
      }
    });
  });

  describe('preconditions (RFC 9110 §13.2.2 order)', () => {
    const etag = '"6553f100-e"';
    it('If-Match that does not match → 412', async () => {
      const r = await get(`${s.base}/hello.txt`, { 'if-match': '"other"' });
      assert.equal(r.status, 412);
      assert.match(r.body.toString(), /Precondition Failed/);
    });

    it('If-Match: * or the current tag → 200', async () => {
      assert.equal((await get(`${s.base}/hello.txt`, { 'if-match': '*' })).status, 200);
      assert.equal((await get(`${s.base}/hello.txt`, { 'if-match': `"x", ${etag}` })).status, 200);
    });

    it('If-Unmodified-Since before the modification → 412', async () => {
      assert.equal((await get(`${s.base}/hello.txt`, { 'if-unmodified-since': 'Mon, 13 Nov 2023 00:00:00 GMT' })).status, 412);
    });

    it('If-None-Match with the current tag → 304 without a body, validators and Cache-Control kept, Content-* dropped', async () => {
      const r = await rawGet(s.port, '/hello.txt', `If-None-Match: ${etag}\r\n`);
      assert.equal(r.status, 304);
      assert.equal(r.body.length, 0);
      assert.equal(r.raw.length, r.raw.indexOf('\r\n\r\n') + 4, 'no body bytes');
      assert.equal(r.headers['etag'], etag);
      assert.equal(r.headers['cache-control'], 'public, max-age=0');
      assert.equal(r.headers['last-modified'], MTIME_HTTP);
      assert.equal(r.headers['content-type'], undefined);
      assert.equal(r.headers['content-length'], undefined);
    });

    it('a weak If-None-Match matches the strong tag (weak comparison) → 304', async () => {
      assert.equal((await get(`${s.base}/hello.txt`, { 'if-none-match': `W/${etag}` })).status, 304);
    });

    it('If-Modified-Since at the modification time → 304; before it → 200', async () => {
      assert.equal((await get(`${s.base}/hello.txt`, { 'if-modified-since': MTIME_HTTP })).status, 304);
      assert.equal((await get(`${s.base}/hello.txt`, { 'if-modified-since': 'Mon, 13 Nov 2023 00:00:00 GMT' })).status, 200);
    });

    it('If-None-Match is evaluated instead of If-Modified-Since when both are present', async () => {
      const r = await get(`${s.base}/hello.txt`, { 'if-none-match': '"other"', 'if-modified-since': MTIME_HTTP });
      assert.equal(r.status, 200);
    });

    it('a failed If-Match wins over a matching If-None-Match → 412', async () => {
      assert.equal((await get(`${s.base}/hello.txt`, { 'if-match': '"other"', 'if-none-match': etag })).status, 412);
    });

    it('304 on a big file sends no body and starts no transfer', async () => {
      const rec = recordTransfers();
      try {
        const r = await get(`${s.base}/big.bin`, { 'if-none-match': `"${MTIME_S.toString(16)}-${big.size.toString(16)}"` });
        assert.equal(r.status, 304);
        assert.equal(rec.transfers.length, 0);
      } finally {
        rec.stop();
      }
    });
  });

  describe('Range', () => {
    const bigTag = () => `"${MTIME_S.toString(16)}-${big.size.toString(16)}"`;
    const single: [string, number, number][] = [
      ['bytes=0-99', 0, 100],
      ['bytes=1000-', 1000, (1 << 20) + 7],
      ['bytes=-500', (1 << 20) + 7 - 500, (1 << 20) + 7],
      ['bytes=524288-524288', 524288, 524289],
    ];
    for (const [header, start, end] of single) {
      it(`${header} → 206 with Content-Range and exactly those bytes, all but the held-back last one sent with sendfile`, async () => {
        const rec = recordTransfers();
        try {
          const r = await get(`${s.base}/big.bin`, { range: header });
          assert.equal(r.status, 206);
          assert.equal(r.headers.get('content-range'), `bytes ${start}-${end - 1}/${big.size}`);
          assert.equal(r.headers.get('content-length'), String(end - start));
          assert.deepEqual(r.body, bigData.subarray(start, end));
          // A one-byte range is only the held-back byte: no sendfile at all.
          assert.deepEqual(rec.transfers.map((t) => [t.method, t.bytes]), end - start > 1 ? [['sendfile', end - start - 1]] : []);
        } finally {
          rec.stop();
        }
      });
    }

    it("Safari's probe bytes=0-1 → 206 with exactly 2 bytes and the full size", async () => {
      const r = await rawGet(s.port, '/big.bin', 'Range: bytes=0-1\r\n');
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-length'], '2');
      assert.equal(r.headers['content-range'], `bytes 0-1/${big.size}`);
      assert.deepEqual(r.body, bigData.subarray(0, 2));
      assert.equal(r.raw.length, r.raw.indexOf('\r\n\r\n') + 4 + 2);
    });

    it('a range of a small file served from memory → 206 with exact bytes', async () => {
      const data = fs.readFileSync(small.path);
      const r = await get(`${s.base}/small.bin`, { range: 'bytes=10-19' });
      assert.equal(r.status, 206);
      assert.deepEqual(r.body, data.subarray(10, 20));
    });

    it(`unsatisfiable (bytes=${(1 << 20) + 7}-) → 416 with Content-Range: bytes */SIZE`, async () => {
      const r = await get(`${s.base}/big.bin`, { range: `bytes=${big.size}-` });
      assert.equal(r.status, 416);
      assert.equal(r.headers.get('content-range'), `bytes */${big.size}`);
    });

    for (const header of ['bytes=abc', 'items=0-1', 'bytes=5-1', 'bytes=--1', 'bytes 0-1']) {
      it(`malformed (${header}) → 200 with the whole file`, async () => {
        const r = await get(`${s.base}/big.bin`, { range: header });
        assert.equal(r.status, 200);
        assert.equal(sha256(r.body), big.sha256);
      });
    }

    it('If-Range with the current ETag → 206; with another → 200', async () => {
      assert.equal((await get(`${s.base}/big.bin`, { range: 'bytes=0-9', 'if-range': bigTag() })).status, 206);
      const stale = await get(`${s.base}/big.bin`, { range: 'bytes=0-9', 'if-range': '"stale"' });
      assert.equal(stale.status, 200);
      assert.equal(stale.body.length, big.size);
    });

    it('If-Range with the Last-Modified date → 206; with an older date → 200', async () => {
      assert.equal((await get(`${s.base}/big.bin`, { range: 'bytes=0-9', 'if-range': MTIME_HTTP })).status, 206);
      assert.equal((await get(`${s.base}/big.bin`, { range: 'bytes=0-9', 'if-range': 'Mon, 13 Nov 2023 00:00:00 GMT' })).status, 200);
    });

    it('If-Range with a weak tag never matches → 200', async () => {
      assert.equal((await get(`${s.base}/big.bin`, { range: 'bytes=0-9', 'if-range': `W/${bigTag()}` })).status, 200);
    });

    it('several ranges → 206 multipart/byteranges, each part exact, every part body sent with sendfile', async () => {
      const rec = recordTransfers();
      try {
        const r = await get(`${s.base}/big.bin`, { range: 'bytes=0-9, 500000-500099, -5' });
        assert.equal(r.status, 206);
        const boundary = /^multipart\/byteranges; boundary=(.+)$/.exec(r.headers.get('content-type') ?? '')?.[1];
        assert.ok(boundary, `content-type ${r.headers.get('content-type')}`);
        assert.equal(Number(r.headers.get('content-length')), r.body.length);
        const parts = parseMultipart(r.body, boundary);
        assert.deepEqual(parts.map((p) => p.headers['content-range']), [
          `bytes 0-9/${big.size}`, `bytes 500000-500099/${big.size}`, `bytes ${big.size - 5}-${big.size - 1}/${big.size}`,
        ]);
        assert.deepEqual(parts.map((p) => p.headers['content-type']), Array(3).fill('application/octet-stream'));
        assert.deepEqual(parts[0]!.data, bigData.subarray(0, 10));
        assert.deepEqual(parts[1]!.data, bigData.subarray(500000, 500100));
        assert.deepEqual(parts[2]!.data, bigData.subarray(big.size - 5));
        assert.ok(r.body.toString('latin1').endsWith(`\r\n--${boundary}--\r\n`));
        // The last part's last byte is held back until the file is proven unchanged.
        assert.deepEqual(rec.transfers.map((t) => [t.method, t.bytes]), [['sendfile', 10], ['sendfile', 100], ['sendfile', 4]]);
      } finally {
        rec.stop();
      }
    });

    it('adjacent ranges are coalesced into one part (bytes=0-9,10-19 → bytes 0-19)', async () => {
      const r = await get(`${s.base}/big.bin`, { range: 'bytes=0-9,10-19' });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-range'), `bytes 0-19/${big.size}`);
    });

    it('three ranges overlapping the same bytes → 200 with the whole file', async () => {
      const r = await get(`${s.base}/big.bin`, { range: 'bytes=0-99,0-99,0-99' });
      assert.equal(r.status, 200);
      assert.equal(r.body.length, big.size);
    });

    it('ranges adding up to more than the file → 200', async () => {
      assert.equal((await get(`${s.base}/big.bin`, { range: `bytes=0-,1-` })).status, 200);
    });

    it('more ranges than maxRanges → 200 with the whole file', async () => {
      const w = await startStatic(root, { maxRanges: 3 });
      try {
        const r = await get(`${w.base}/big.bin`, { range: 'bytes=0-0,10-10,20-20,30-30' });
        assert.equal(r.status, 200);
        assert.equal(r.body.length, big.size);
        assert.equal((await get(`${w.base}/big.bin`, { range: 'bytes=0-0,10-10,20-20' })).status, 206);
      } finally {
        await w.close();
      }
    });

    it('HEAD with Range → 200 head (Range is defined for GET only, RFC 9110 §14.2)', async () => {
      const r = await rawGet(s.port, '/big.bin', 'Range: bytes=0-1\r\n', 'HEAD');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(big.size));
    });

    it('acceptRanges: false → Range ignored, no Accept-Ranges header', async () => {
      const w = await startStatic(root, { acceptRanges: false });
      try {
        const r = await get(`${w.base}/big.bin`, { range: 'bytes=0-1' });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('accept-ranges'), null);
      } finally {
        await w.close();
      }
    });
  });

  describe('precompressed siblings', () => {
    let p: StaticTestServer;
    before(async () => {
      p = await startStatic(root, { precompressed: true });
    });
    after(() => p.close());
    const identity = () => fs.readFileSync(path.join(root, 'app.js'));

    it('Accept-Encoding: gzip, br → the .br file with Content-Encoding: br, Vary and the identity Content-Type', async () => {
      const r = await rawGet(p.port, '/app.js', 'Accept-Encoding: gzip, deflate, br\r\n');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-encoding'], 'br');
      assert.equal(r.headers['vary'], 'Accept-Encoding');
      assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.deepEqual(r.body, fs.readFileSync(path.join(root, 'app.js.br')));
      assert.deepEqual(zlib.brotliDecompressSync(r.body), identity());
      assert.equal(r.headers['etag'], `"${MTIME_S.toString(16)}-${r.body.length.toString(16)}-br"`);
    });

    it('Accept-Encoding: gzip → the .gz file', async () => {
      const r = await rawGet(p.port, '/app.js', 'Accept-Encoding: gzip\r\n');
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.deepEqual(zlib.gunzipSync(r.body), identity());
    });

    it('br;q=0 refuses brotli → gzip', async () => {
      const r = await rawGet(p.port, '/app.js', 'Accept-Encoding: br;q=0, gzip\r\n');
      assert.equal(r.headers['content-encoding'], 'gzip');
    });

    it('no Accept-Encoding → the identity file, still with Vary', async () => {
      const r = await rawGet(p.port, '/app.js');
      assert.equal(r.headers['content-encoding'], undefined);
      assert.equal(r.headers['vary'], 'Accept-Encoding');
      assert.deepEqual(r.body, identity());
    });

    it('only a .gz sibling exists and the client prefers br → gzip', async () => {
      const r = await rawGet(p.port, '/style.css', 'Accept-Encoding: br, gzip;q=0.5\r\n');
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.equal(r.headers['content-type'], 'text/css; charset=utf-8');
    });

    it('without the option, siblings are ignored', async () => {
      const r = await rawGet(s.port, '/app.js', 'Accept-Encoding: br\r\n');
      assert.equal(r.headers['content-encoding'], undefined);
      assert.equal(r.headers['vary'], undefined);
    });

    it('a single Range applies to the encoded bytes', async () => {
      const br = fs.readFileSync(path.join(root, 'app.js.br'));
      const r = await rawGet(p.port, '/app.js', 'Accept-Encoding: br\r\nRange: bytes=0-3\r\n');
      assert.equal(r.status, 206);
      assert.deepEqual(r.body, br.subarray(0, 4));
    });
  });

  describe('directories', () => {
    it('/dir → 301 to /dir/', async () => {
      const r = await get(`${s.base}/dir`);
      assert.equal(r.status, 301);
      assert.equal(r.headers.get('location'), '/dir/');
      assert.equal(r.headers.get('content-security-policy'), "default-src 'none'");
    });

    it('/dir?a=1&b=x%20y → 301 keeping the query', async () => {
      const r = await get(`${s.base}/dir?a=1&b=x%20y`);
      assert.equal(r.headers.get('location'), '/dir/?a=1&b=x%20y');
    });

    it('//dir (a would-be protocol-relative target) → Location /dir/, never //dir/', async () => {
      const r = await rawGet(s.port, '//dir');
      assert.equal(r.status, 301);
      assert.equal(r.headers['location'], '/dir/');
    });

    it('/dir/ → its index.html; / → the root index.html', async () => {
      const dir = await get(`${s.base}/dir/`);
      assert.equal(dir.status, 200);
      assert.equal(dir.body.toString(), '<h1>dir index</h1>\n');
      assert.equal(dir.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal((await get(`${s.base}/`)).body.toString(), '<h1>root index</h1>\n');
    });

    it('a directory without index.html → 404 unless listing is on', async () => {
      assert.equal((await get(`${s.base}/bare/`)).status, 404);
    });

    it('redirect: false → /dir is 404', async () => {
      const w = await startStatic(root, { redirect: false });
      try {
        assert.equal((await get(`${w.base}/dir`)).status, 404);
      } finally {
        await w.close();
      }
    });

    it('index: false → /dir/ is 404', async () => {
      const w = await startStatic(root, { index: false });
      try {
        assert.equal((await get(`${w.base}/dir/`)).status, 404);
      } finally {
        await w.close();
      }
    });

    it('listing: true → an HTML listing with escaped names, encoded links, CSP and no dotfiles', async () => {
      const w = await startStatic(root, { listing: true });
      try {
        const r = await get(`${w.base}/bare/`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-security-policy'), "default-src 'none'");
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
        const html = r.body.toString();
        assert.ok(!html.includes('<img'), 'the name is escaped');
        assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;.txt'));
        assert.ok(html.includes('href="%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt"'));
        assert.ok(html.includes('href="sub%20%26%20more/"'));
        assert.ok(html.includes('href="a.txt"'));
        assert.ok(!html.includes('.secret'), 'dotfiles are not listed');
        assert.ok(html.includes('href="../"'));
      } finally {
        await w.close();
      }
    });
  });

  describe('dotfiles', () => {
    it("'ignore' (default): /.env and /.hidden/file.txt → 404", async () => {
      assert.equal((await get(`${s.base}/.env`)).status, 404);
      assert.equal((await get(`${s.base}/.hidden/file.txt`)).status, 404);
    });

    it("'deny': → 403", async () => {
      const w = await startStatic(root, { dotfiles: 'deny' });
      try {
        assert.equal((await get(`${w.base}/.env`)).status, 403);
        assert.equal((await get(`${w.base}/.hidden/file.txt`)).status, 403);
      } finally {
        await w.close();
      }
    });

    it("'allow': → 200", async () => {
      const w = await startStatic(root, { dotfiles: 'allow' });
      try {
        assert.equal((await get(`${w.base}/.env`)).body.toString(), 'SECRET=1');
        assert.equal((await get(`${w.base}/.hidden/file.txt`)).status, 200);
      } finally {
        await w.close();
      }
    });
  });

  describe('extensions and spaFallback', () => {
    it("extensions: ['html'] → /about serves about.html", async () => {
      const w = await startStatic(root, { extensions: ['html'] });
      try {
        const r = await get(`${w.base}/about`);
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), '<h1>about</h1>\n');
        assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      } finally {
        await w.close();
      }
    });

    it('spaFallback → unknown extension-less paths get the root index.html; unknown files stay 404', async () => {
      const w = await startStatic(root, { spaFallback: true });
      try {
        const route = await get(`${w.base}/app/settings/profile`);
        assert.equal(route.status, 200);
        assert.equal(route.body.toString(), '<h1>root index</h1>\n');
        assert.equal((await get(`${w.base}/missing.js`)).status, 404);
        assert.equal((await get(`${w.base}/.env`)).status, 404, 'dotfiles are not rescued');
      } finally {
        await w.close();
      }
    });
  });

  describe('fallthrough and next', () => {
    it('fallthrough (default): a 404 and a POST call next() with no error', async () => {
      const calls: unknown[] = [];
      const w = await startStatic(root, {}, (_req, res) => (error?: unknown) => {
        calls.push(error);
        res.writeHead(418).end('next');
      });
      try {
        assert.equal((await get(`${w.base}/missing`)).status, 418);
        assert.equal((await get(`${w.base}/hello.txt`, {}, 'POST')).status, 418);
        assert.equal((await get(`${w.base}/hello.txt`)).status, 200);
        assert.deepEqual(calls, [undefined, undefined]);
      } finally {
        await w.close();
      }
    });

    it('fallthrough: false → next(err) shaped like http-errors: status, statusCode, expose, name, the cause in message and stack', async () => {
      const errors: any[] = [];
      const w = await startStatic(root, { fallthrough: false }, (_req, res) => (error?: unknown) => {
        errors.push(error);
        res.writeHead(599).end();
      });
      try {
        await get(`${w.base}/missing`);
        assert.equal(errors.length, 1);
        assert.equal(errors[0].code, 'ZC_ERR_HTTP_STATUS');
        assert.equal(errors[0].status, 404);
        assert.equal(errors[0].statusCode, 404);
        assert.equal(errors[0].name, 'NotFoundError');
        assert.equal(errors[0].expose, false, 'a file-system cause is not exposed (send passes expose: false)');
        assert.equal(errors[0].message, "Not Found: ENOENT: no such file or directory, openat2 'missing'");
        assert.match(errors[0].stack, /^NotFoundError: Not Found: ENOENT/);
        assert.equal(errors[0].cause.code, 'ENOENT');
        assert.equal((await get(`${w.base}/hello.txt`, {}, 'POST')).status, 405);
      } finally {
        await w.close();
      }
    });
  });

  describe('keep-alive and pipelining', () => {
    for (const mode of ['sendfile (cork)', 'sendfile (prefix)', "method: 'copy'", 'without the addon (ZEROCOPY_NATIVE=0)'] as const) {
      it(`answers 10 pipelined requests in order on one connection, bodies intact — ${mode}`, async () => {
        const { setNativeForTesting } = await import('../../../src/native/capabilities.js');
        const restore = mode.startsWith('without') ? setNativeForTesting(null) : () => {};
        const w = await startStatic(root, mode === 'sendfile (cork)' ? { headerMode: 'cork' } : mode === 'sendfile (prefix)' ? { headerMode: 'prefix' } : mode === "method: 'copy'" ? { method: 'copy' } : {});
        try {
          const requests: { method: string; path: string; headers?: Record<string, string> }[] = [
            { method: 'GET', path: '/big.bin' },
            { method: 'GET', path: '/hello.txt' },
            { method: 'GET', path: '/big.bin', headers: { Range: 'bytes=100-199' } },
            { method: 'HEAD', path: '/big.bin' },
            { method: 'GET', path: '/big.bin', headers: { Range: 'bytes=0-1,-2' } },
            { method: 'GET', path: '/hello.txt', headers: { 'If-None-Match': '"6553f100-e"' } },
            { method: 'GET', path: '/missing' },
            { method: 'GET', path: '/small.bin' },
            { method: 'GET', path: '/dir' },
            { method: 'GET', path: '/big.bin' },
          ];
          const { responses, rest } = await withTimeout(pipeline(w.port, requests), 20000, 'pipelined requests');
          assert.deepEqual(responses.map((r) => r.status), [200, 200, 206, 200, 206, 304, 404, 200, 301, 200]);
          assert.equal(sha256(responses[0]!.body), big.sha256);
          assert.equal(responses[1]!.body.toString(), 'Hello, world!\n');
          assert.deepEqual(responses[2]!.body, bigData.subarray(100, 200));
          assert.equal(responses[3]!.body.length, 0);
          const boundary = /boundary=(.+)$/.exec(responses[4]!.headers['content-type']!)![1]!;
          assert.deepEqual(parseMultipart(responses[4]!.body, boundary).map((p) => p.data), [bigData.subarray(0, 2), bigData.subarray(big.size - 2)]);
          assert.equal(sha256(responses[7]!.body), small.sha256);
          assert.equal(sha256(responses[9]!.body), big.sha256);
          assert.equal(rest.length, 0, 'no stray bytes');
          assert.ok(responses.every((r) => r.headers['connection'] === 'keep-alive'));
          const expected = mode.startsWith('sendfile') ? 'sendfile' : 'copy';
          assert.deepEqual(w.bodies.filter((b) => b.method !== 'memory' && b.method !== 'none').map((b) => b.method), Array(4).fill(expected));
        } finally {
          await w.close();
          restore();
        }
      });
    }
  });
});
