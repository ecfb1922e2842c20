/**
 * The framework adapters against the real frameworks (devDependencies):
 * Express (serveStatic is Connect middleware as is), Koa (koaStatic) and
 * Fastify (fastifyStatic). Each proves the body went out with sendfile and
 * that requests it does not answer reach the framework.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';

import { fastifyStatic } from '../../../src/http/faces/fastify.js';
import { koaStatic } from '../../../src/http/faces/koa.js';
import { serveStatic } from '../../../src/http/faces/middleware.js';
import { sendFileResponse } from '../../../src/http/faces/send-file.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { pipeline } from '../../helpers/http.js';
import { withTimeout } from '../../helpers/process.js';
import { get, recordTransfers } from '../static-helpers.js';

async function listen(server: http.Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('framework adapters', () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'public');
  let big: Fixture;
  let bigData: Buffer;

  before(() => {
    fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'hello.txt'), 'Hello, world!\n');
    fs.writeFileSync(path.join(root, 'docs', 'index.html'), '<h1>docs</h1>');
    big = makeRandomFile(root, 'big.bin', (1 << 20) + 3);
    bigData = fs.readFileSync(big.path);
  });
  after(() => tmp.remove());

  describe('Express', () => {
    let server: http.Server;
    let base: string;
    const statics = [serveStatic(root), serveStatic(root, { fallthrough: false })];
    before(async () => {
      const app = express();
      app.use(statics[0]!);
      app.use('/static', statics[1]!);
      app.get('/download', (req, res, next) => {
        sendFileResponse(req, res, 'big.bin', { root, headers: { 'Content-Disposition': 'attachment' } }).catch(next);
      });
      app.get('/api', (_req, res) => {
        res.json({ ok: true });
      });
      app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(error.status ?? 500).send(`handled ${error.status}`);
      });
      server = app.listen(0, '127.0.0.1');
      base = await listen(server);
    });
    after(async () => {
      await closeServer(server);
      for (const handler of statics) await handler.close();
    });

    it('app.use(serveStatic(root)) serves a file with a sendfile body', async () => {
      const rec = recordTransfers();
      try {
        const r = await get(`${base}/big.bin`);
        assert.equal(r.status, 200);
        assert.equal(sha256(r.body), big.sha256);
        assert.deepEqual(rec.transfers.map((t) => t.method), ['sendfile']);
      } finally {
        rec.stop();
      }
    });

    it('a missing file falls through to the next route', async () => {
      assert.deepEqual(JSON.parse((await get(`${base}/api`)).body.toString()), { ok: true });
    });

    it('mounted at /static: serves under the mount, redirects /static/docs and /static to their slash forms', async () => {
      assert.equal((await get(`${base}/static/hello.txt`)).body.toString(), 'Hello, world!\n');
      const docs = await get(`${base}/static/docs?x=1`);
      assert.equal(docs.status, 301);
      assert.equal(docs.headers.get('location'), '/static/docs/?x=1');
      assert.equal((await get(`${base}/static`)).headers.get('location'), '/static/');
      assert.equal((await get(`${base}/static/docs/`)).body.toString(), '<h1>docs</h1>');
    });

    it('fallthrough: false hands a 404 to the error handler as err.status', async () => {
      const r = await get(`${base}/static/missing`);
      assert.equal(r.status, 404);
      assert.equal(r.body.toString(), 'handled 404');
    });

    it('sendFileResponse in a route: Range, extra headers, sendfile', async () => {
      const r = await get(`${base}/download`, { range: 'bytes=10-29' });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-disposition'), 'attachment');
      assert.deepEqual(r.body, bigData.subarray(10, 30));
    });

    it('keeps pipelined keep-alive requests in order after sendfile bodies', async () => {
      const { port } = server.address() as net.AddressInfo;
      const { responses } = await withTimeout(pipeline(port, [
        { method: 'GET', path: '/big.bin' }, { method: 'GET', path: '/api' }, { method: 'GET', path: '/hello.txt' },
      ]), 10000, 'pipelined');
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
      assert.equal(sha256(responses[0]!.body), big.sha256);
      assert.equal(responses[2]!.body.toString(), 'Hello, world!\n');
    });
  });

  describe('Koa', () => {
    let server: http.Server;
    let base: string;
    const middleware = koaStatic(root, { maxAge: '1h' });
    const strict = koaStatic(root, { fallthrough: false });
    before(async () => {
      const app = new Koa();
      app.use(async (ctx, next) => {
        ctx.set('X-Outer', 'kept');
        await next();
      });
      app.use(async (ctx, next) => (ctx.path.startsWith('/strict') ? strict(Object.assign(ctx, {}), next) : next()));
      app.use(middleware);
      app.use((ctx) => {
        ctx.body = `koa handled ${ctx.path}`;
      });
      server = app.listen(0, '127.0.0.1');
      base = await listen(server);
    });
    after(async () => {
      await closeServer(server);
      await middleware.close();
      await strict.close();
    });

    it('app.use(koaStatic(root)) serves a file with a sendfile body and keeps headers set upstream', async () => {
      const rec = recordTransfers();
      try {
        const r = await get(`${base}/big.bin`);
        assert.equal(r.status, 200);
        assert.equal(sha256(r.body), big.sha256);
        assert.equal(r.headers.get('x-outer'), 'kept');
        assert.equal(r.headers.get('cache-control'), 'public, max-age=3600');
        assert.deepEqual(rec.transfers.map((t) => t.method), ['sendfile']);
      } finally {
        rec.stop();
      }
    });

    it('answers Range with 206', async () => {
      const r = await get(`${base}/big.bin`, { range: 'bytes=-4' });
      assert.equal(r.status, 206);
      assert.deepEqual(r.body, bigData.subarray(big.size - 4));
    });

    it('passes requests for missing files down the chain', async () => {
      const r = await get(`${base}/no/such/file`);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'koa handled /no/such/file');
    });

    it('fallthrough: false throws a 404 that Koa answers', async () => {
      const r = await get(`${base}/strict-missing`);
      assert.equal(r.status, 404);
      assert.equal(r.body.toString(), 'Not Found');
    });
  });

  describe('Fastify', () => {
    let base: string;
    const app = Fastify();
    const assets = fastifyStatic(root, { prefix: '/assets/' });
    before(async () => {
      app.addHook('onRequest', async (_request, reply) => {
        reply.header('x-from-hook', 'yes');
      });
      app.get('/assets/*', assets);
      app.get('/assets', assets);
      app.get('/api', async () => ({ ok: true }));
      app.addHook('onClose', async () => assets.close());
      base = await app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(() => app.close());

    it('a route with fastifyStatic serves a file with a sendfile body (reply hijacked), hook headers kept', async () => {
      const rec = recordTransfers();
      try {
        const r = await get(`${base}/assets/big.bin`);
        assert.equal(r.status, 200);
        assert.equal(sha256(r.body), big.sha256);
        assert.equal(r.headers.get('x-from-hook'), 'yes');
        assert.deepEqual(rec.transfers.map((t) => t.method), ['sendfile']);
      } finally {
        rec.stop();
      }
    });

    it('strips the prefix, redirects directories relative to it, and answers 404 itself', async () => {
      assert.equal((await get(`${base}/assets/hello.txt`)).body.toString(), 'Hello, world!\n');
      assert.equal((await get(`${base}/assets/docs`)).headers.get('location'), '/assets/docs/');
      assert.equal((await get(`${base}/assets`)).headers.get('location'), '/assets/');
      assert.equal((await get(`${base}/assets/missing`)).status, 404);
    });

    it('HEAD and Range work through the hijacked reply', async () => {
      const head = await get(`${base}/assets/big.bin`, {}, 'HEAD');
      assert.equal(head.headers.get('content-length'), String(big.size));
      const r = await get(`${base}/assets/big.bin`, { range: 'bytes=0-1' });
      assert.equal(r.status, 206);
      assert.deepEqual(r.body, bigData.subarray(0, 2));
    });

    it('other routes are untouched', async () => {
      assert.deepEqual(JSON.parse((await get(`${base}/api`)).body.toString()), { ok: true });
    });
  });
});
