/**
 * `zerocopy serve --tls-cert --tls-key`: HTTPS with HTTP/2, and HTTP/1.1 by
 * ALPN, against a self-signed certificate made for the test with openssl(1).
 * Bodies are checked byte for byte; the startup line and the access log must
 * say that bodies went through user space (copy).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeRandomFile, makeTempDir, type Fixture } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';
import { killAll, serve, type Served } from './harness.js';

function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
}

/** A self-signed certificate for 127.0.0.1, valid one day. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  return { cert, key };
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** GET over HTTP/1.1 (https.get offers no h2 in ALPN). */
function getHttp1(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; version: string; body: Buffer; headers: Record<string, unknown> }> {
  return withTimeout(new Promise((resolve, reject) => {
    https.get(url, { ca, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, version: res.httpVersion, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    }).on('error', reject);
  }), 20000, `GET ${url}`);
}

/** GET over HTTP/2 on one session. */
async function getHttp2(session: http2.ClientHttp2Session, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: http2.IncomingHttpHeaders }> {
  return withTimeout(new Promise((resolve, reject) => {
    const stream = session.request({ ':path': target, ...headers });
    let response: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (response = h));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status: Number(response[':status']), body: Buffer.concat(chunks), headers: response }));
    stream.on('error', reject);
  }), 20000, `h2 GET ${target}`);
}

describe('zerocopy serve --tls-cert --tls-key (HTTPS, HTTP/2)', { skip: hasOpenssl() ? false : 'needs openssl to make a test certificate' }, () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'site');
  let big: Fixture;
  let ca: Buffer;
  let s: Served;

  before(async () => {
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'hello.txt'), 'Hello, TLS!\n');
    big = makeRandomFile(root, 'big.bin', (8 << 20) + 123);
    const { cert, key } = makeCertificate(tmp.dir);
    ca = fs.readFileSync(cert);
    s = await serve([root, '-l', '0', '--tls-cert', cert, '--tls-key', key, '--log']);
  });
  after(async () => {
    if (s) await s.stop().catch(() => {});
    killAll();
    tmp.remove();
  });

  it('says so at startup: an https URL, both protocols, bodies by copy', () => {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(s.stdout().split('\n')[0], `Serving ${root} at ${s.url} (bodies: copy, HTTPS encrypts in user space; HTTP/2 and HTTP/1.1)`);
  });

  it('answers HTTP/1.1 clients (https.get) byte for byte', async () => {
    const r = await getHttp1(`${s.url}big.bin`, ca);
    assert.equal(r.status, 200);
    assert.equal(r.version, '1.1');
    assert.equal(sha256(r.body), big.sha256);
    const range = await getHttp1(`${s.url}big.bin`, ca, { range: 'bytes=100-199' });
    assert.equal(range.status, 206);
    assert.deepEqual(range.body, fs.readFileSync(big.path).subarray(100, 200));
  });

  it('answers HTTP/2 clients (http2.connect) byte for byte, several streams on one session', async () => {
    const session = http2.connect(s.url, { ca });
    try {
      const [whole, small, range, missing] = await Promise.all([
        getHttp2(session, '/big.bin'),
        getHttp2(session, '/hello.txt'),
        getHttp2(session, '/big.bin', { range: 'bytes=-10' }),
        getHttp2(session, '/nope'),
      ]);
      assert.equal(session.alpnProtocol, 'h2');
      assert.equal(whole.status, 200);
      assert.equal(sha256(whole.body), big.sha256);
      assert.equal(small.body.toString(), 'Hello, TLS!\n');
      assert.equal(range.status, 206);
      assert.deepEqual(range.body, fs.readFileSync(big.path).subarray(big.size - 10));
      assert.equal(missing.status, 404);
    } finally {
      session.close();
    }
  });

  it('logs each response with its protocol and the copy body path', async () => {
    const code = await s.stop();
    assert.equal(code, 0);
    const log = s.stdout();
    assert.match(log, new RegExp(`"GET /big\\.bin HTTP/1\\.1" 200 ${big.size} copy\\n`));
    assert.match(log, new RegExp(`"GET /big\\.bin HTTP/2\\.0" 200 ${big.size} copy\\n`));
    assert.match(log, /"GET \/hello\.txt HTTP\/2\.0" 200 12 memory\n/);
  });
});
