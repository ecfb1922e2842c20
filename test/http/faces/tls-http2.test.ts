/**
 * Issue 10 §4: serveStatic under https.createServer, http2.createSecureServer
 * (compat API, with HTTP/1.1 fallback through ALPN) and cleartext HTTP/2
 * (h2c), with Node's own clients: exact bytes, ranges, conditionals and HEAD;
 * sendfile is never tried on these sockets (TLS encrypts in user space;
 * HTTP/2 frames the body), and responseBodyOf says 'copy' and why.
 * The certificate is self-signed, made by openssl for this run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FALLBACK_CHANNEL, TRANSFER_END_CHANNEL } from '../../../src/diagnostics.js';
import { serveStatic, type StaticHandler } from '../../../src/http/faces/middleware.js';
import { responseBodyOf, type ResponseBody } from '../../../src/http/pipeline/response-info.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { bodiesAfter, parseMultipart } from '../static-helpers.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}
type Client = (target: string, headers?: Record<string, string>, method?: string) => Promise<Reply>;

/** A self-signed certificate for 127.0.0.1, or why there is none. */
function makeCertificate(dir: string): { key: Buffer; cert: Buffer } | string {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
  } catch (error) {
    return `no self-signed certificate (openssl: ${(error as Error).message.split('\n')[0]}); install openssl to run these tests`;
  }
}

function httpsClient(port: number, ca: Buffer): Client {
  return (target, headers = {}, method = 'GET') => new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: target, method, headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function http2Client(session: http2.ClientHttp2Session): Client {
  return (target, headers = {}, method = 'GET') => new Promise((resolve, reject) => {
    const stream = session.request({ ':path': target, ':method': method, ...headers });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head as Reply['headers'], body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.end();
  });
}

/** Every transfer-end and fallback message published while a test runs: the transfer layer's trace. */
function recordKernelAttempts(): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const listener = (message: unknown) => seen.push(message);
  diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
  diagnosticsChannel.subscribe(FALLBACK_CHANNEL, listener);
  return {
    seen,
    stop() {
      diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener);
      diagnosticsChannel.unsubscribe(FALLBACK_CHANNEL, listener);
    },
  };
}

const tmp = makeTempDir();
const root = path.join(tmp.dir, 'www');
fs.mkdirSync(root);
const certificate = makeCertificate(tmp.dir);
const skip = typeof certificate === 'string' ? certificate : false;
const big: Fixture = makeRandomFile(root, 'big.bin', (1 << 20) + 7);
const bigData = fs.readFileSync(big.path);
const small: Fixture = makeRandomFile(root, 'small.bin', 4096);
after(() => tmp.remove());

const setups = [
  { name: 'https.createServer (HTTP/1.1 over TLS)', reason: 'tls' },
  { name: 'http2.createSecureServer, an HTTP/2 client', reason: 'http2' },
  { name: 'http2.createSecureServer with allowHTTP1, an HTTP/1.1 client (ALPN fallback)', reason: 'tls' },
  { name: 'http2.createServer (cleartext h2c), an HTTP/2 client', reason: 'http2' },
] as const;

for (const setup of setups) {
  const cleartext = setup.name.includes('cleartext');
  describe(`serveStatic under ${setup.name} (issue 10 §4)`, { skip: cleartext ? false : skip }, () => {
    let handler: StaticHandler;
    let server: net.Server;
    let session: http2.ClientHttp2Session | undefined;
    let request: Client;
    const bodies: ResponseBody[] = [];

    before(async () => {
      if (!cleartext && typeof certificate === 'string') return;
      handler = serveStatic(root);
      const onRequest = (req: any, res: any) => {
        res.once('close', () => {
          const body = responseBodyOf(res);
          if (body) bodies.push(body);
        });
        void handler(req, res);
      };
      const tls = typeof certificate === 'string' ? {} : { key: certificate.key, cert: certificate.cert };
      server = setup.name.startsWith('https')
        ? https.createServer(tls, onRequest)
        : cleartext
          ? http2.createServer(onRequest)
          : http2.createSecureServer({ ...tls, allowHTTP1: true }, onRequest);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as net.AddressInfo;
      const ca = typeof certificate === 'string' ? undefined : certificate.cert;
      if (setup.reason === 'tls') {
        request = httpsClient(port, ca!);
      } else {
        session = http2.connect(cleartext ? `http://127.0.0.1:${port}` : `https://127.0.0.1:${port}`, ca ? { ca } : {});
        request = http2Client(session);
      }
    });
    after(async () => {
      if (!cleartext && typeof certificate === 'string') return;
      session?.close();
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      await handler.close();
    });

    it(`sends 1 MiB byte for byte through a user-space copy, responseBodyOf saying 'copy' because '${setup.reason}', sendfile never tried`, async () => {
      const kernel = recordKernelAttempts();
      try {
        const before = bodies.length;
        const r = await request('/big.bin');
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-length'], String(big.size));
        assert.equal(sha256(r.body), big.sha256);
        assert.deepEqual(await bodiesAfter(bodies, before), [{ bytes: big.size, method: 'copy', reason: setup.reason }]);
        assert.deepEqual(kernel.seen, [], 'no sendfile (nor a fallback from one) was attempted');
      } finally {
        kernel.stop();
      }
    });

    it('sends a small file from memory', async () => {
      const before = bodies.length;
      const r = await request('/small.bin');
      assert.equal(sha256(r.body), small.sha256);
      assert.deepEqual(await bodiesAfter(bodies, before), [{ bytes: small.size, method: 'memory' }]);
    });

    it('a single range → 206 with exactly those bytes', async () => {
      const r = await request('/big.bin', { range: 'bytes=100-1099' });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes 100-1099/${big.size}`);
      assert.deepEqual(r.body, bigData.subarray(100, 1100));
    });

    it('several ranges → 206 multipart/byteranges, each part exact', async () => {
      const r = await request('/big.bin', { range: 'bytes=0-9, -5' });
      assert.equal(r.status, 206);
      const boundary = /boundary=(.+)$/.exec(String(r.headers['content-type']))![1]!;
      assert.deepEqual(parseMultipart(r.body, boundary).map((p) => p.data), [bigData.subarray(0, 10), bigData.subarray(big.size - 5)]);
      assert.equal(Number(r.headers['content-length']), r.body.length);
    });

    it('If-None-Match with the ETag → 304 without a body; a failed If-Match → 412; If-Range with another tag → 200', async () => {
      const etag = String((await request('/big.bin', {}, 'HEAD')).headers['etag']);
      const notModified = await request('/big.bin', { 'if-none-match': etag });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.body.length, 0);
      assert.equal((await request('/big.bin', { 'if-match': '"nope"' })).status, 412);
      const whole = await request('/big.bin', { range: 'bytes=0-9', 'if-range': '"stale"' });
      assert.equal(whole.status, 200);
      assert.equal(sha256(whole.body), big.sha256);
    });

    it('HEAD → the head with Content-Length and no body', async () => {
      const r = await request('/big.bin', {}, 'HEAD');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(big.size));
      assert.equal(r.body.length, 0);
    });

    it('a missing file → 404', async () => {
      assert.equal((await request('/missing.bin')).status, 404);
    });
  });
}
