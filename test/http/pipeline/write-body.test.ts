import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { bodyLength, writeResponse, type BodyPart, type WriteBodyOptions } from '../../../src/http/pipeline/write-body.js';
import { setNativeForTesting } from '../../../src/native/capabilities.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { pipeline } from '../../helpers/http.js';
import { withTimeout } from '../../helpers/process.js';

type Route = (fd: number) => { status: number; headers: Record<string, string>; parts: BodyPart[] };

/** A node:http server whose responses go through writeResponse, one route per path. */
async function startServer(routes: Record<string, Route>, fixture: Fixture, options: WriteBodyOptions = {}) {
  const results: { method: string; bytes: number }[] = [];
  const errors: Error[] = [];
  const server = http.createServer(async (req, res) => {
    const route = routes[req.url ?? ''];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const fd = fs.openSync(fixture.path, 'r');
    try {
      const { status, headers, parts } = route(fd);
      res.writeHead(status, { ...headers, 'Content-Length': String(bodyLength(parts)) });
      results.push(await writeResponse(res, parts, options));
    } catch (error) {
      errors.push(error as Error);
    } finally {
      fs.closeSync(fd);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return { server, port, results, errors, close: () => new Promise((resolve) => server.close(resolve)) };
}

for (const mode of ['cork', 'prefix', 'copy', 'without the addon'] as const) {
  describe(`writeResponse (${mode})`, () => {
    const tmp = makeTempDir();
    let fixture: Fixture;
    let data: Buffer;
    let restore = () => {};
    const options: WriteBodyOptions = mode === 'copy' ? { method: 'copy' } : mode === 'prefix' ? { headerMode: 'prefix' } : {};
    const expectedMethod = mode === 'cork' || mode === 'prefix' ? 'sendfile' : 'copy';
    const routes: Record<string, Route> = {
      '/whole': (fd) => ({ status: 200, headers: { 'Content-Type': 'application/octet-stream' }, parts: [{ fd, start: 0, end: fixture.size }] }),
      '/range': (fd) => ({ status: 206, headers: { 'Content-Range': `bytes 100-1099/${fixture.size}` }, parts: [{ fd, start: 100, end: 1100 }] }),
      '/multi': (fd) => ({
        status: 206,
        headers: { 'Content-Type': 'multipart/byteranges; boundary=XYZ' },
        parts: [Buffer.from('--XYZ\r\n\r\n'), { fd, start: 0, end: 10 }, Buffer.from('\r\n--XYZ\r\n\r\n'), { fd, start: 50, end: 60 }, Buffer.from('\r\n--XYZ--\r\n')],
      }),
      '/tooLong': (fd) => ({ status: 200, headers: {}, parts: [{ fd, start: 0, end: fixture.size + 1000 }] }),
    };

    before(() => {
      fixture = makeRandomFile(tmp.dir, 'body', (2 << 20) + 7);
      data = fs.readFileSync(fixture.path);
      if (mode === 'without the addon') restore = setNativeForTesting(null);
    });
    after(() => {
      restore();
      tmp.remove();
    });

    it('sends a whole file with fetch, byte for byte', async () => {
      const s = await startServer(routes, fixture, options);
      try {
        const response = await fetch(`http://127.0.0.1:${s.port}/whole`);
        assert.equal(response.status, 200);
        assert.equal(sha256(Buffer.from(await response.arrayBuffer())), fixture.sha256);
        const reason = mode === 'copy' ? { reason: 'forced' } : mode === 'without the addon' ? { reason: 'no-addon' } : {};
        assert.deepEqual(s.results, [{ bytes: fixture.size, method: expectedMethod, ...reason }]);
      } finally {
        await s.close();
      }
    });

    it('answers five pipelined requests in order on one connection, bodies intact', async () => {
      const s = await startServer(routes, fixture, options);
      try {
        const requests = ['/whole', '/range', '/multi', '/whole', '/range'].map((path, i) => ({ method: i === 3 ? 'HEAD' : 'GET', path }));
        const { responses, rest, closed } = await withTimeout(pipeline(s.port, requests), 20000, 'pipelined requests');
        assert.equal(responses.length, 5, `got ${responses.length} responses (closed: ${closed})`);
        assert.deepEqual(responses.map((r) => r.status), [200, 206, 206, 200, 206]);
        assert.equal(sha256(responses[0]!.body), fixture.sha256);
        assert.deepEqual(responses[1]!.body, data.subarray(100, 1100));
        assert.equal(responses[2]!.body.toString('latin1'),
          `--XYZ\r\n\r\n${data.subarray(0, 10).toString('latin1')}\r\n--XYZ\r\n\r\n${data.subarray(50, 60).toString('latin1')}\r\n--XYZ--\r\n`);
        assert.equal(responses[3]!.body.length, 0, 'HEAD has no body');
        assert.equal(responses[3]!.headers['content-length'], String(fixture.size));
        assert.deepEqual(responses[4]!.body, data.subarray(100, 1100));
        assert.equal(rest.length, 0, 'no stray bytes after the last response');
        assert.equal(responses.every((r) => r.headers['connection'] === 'keep-alive'), true);
      } finally {
        await s.close();
      }
    });

    it('destroys the connection instead of ending early when the file is shorter than promised', async () => {
      const s = await startServer(routes, fixture, options);
      try {
        const { responses, closed } = await withTimeout(pipeline(s.port, [{ method: 'GET', path: '/tooLong' }], 5000), 10000, 'short body');
        assert.equal(responses.length, 0, 'the client never sees a complete response');
        assert.equal(closed, true);
        assert.equal(s.errors[0] && (s.errors[0] as any).code, 'ZC_ERR_FILE_TRUNCATED');
      } finally {
        await s.close();
      }
    });
  });
}
