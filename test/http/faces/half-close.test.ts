/**
 * Issue 10 §2: a client that sends `GET /1m.bin` on a keep-alive connection
 * and then half-closes (shutdown(SHUT_WR), as `nc -N` does) gets the whole
 * response, then the server closes. Looped so that the race between the FIN
 * and the start of the body shows.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import Koa from 'koa';
import Fastify from 'fastify';

import { fastifyStatic } from '../../../src/http/faces/fastify.js';
import { koaStatic } from '../../../src/http/faces/koa.js';
import { sendFileResponse } from '../../../src/http/faces/send-file.js';
import type { ServeStaticOptions } from '../../../src/http/pipeline/static-options.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { parseResponses } from '../../helpers/http.js';
import { withTimeout } from '../../helpers/process.js';
import { startStatic } from '../static-helpers.js';

/** GET then shutdown(SHUT_WR); reads until the server closes. */
async function getThenHalfClose(port: number, target: string): Promise<{ status: number; body: Buffer; rest: number; ended: boolean }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`); // keep-alive request, then FIN
  const chunks: Buffer[] = [];
  let ended = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('end', () => {
    ended = true;
  });
  socket.on('error', () => {});
  await withTimeout(once(socket, 'close'), 10000, `GET ${target} after a half-close`);
  const { responses, rest } = parseResponses(Buffer.concat(chunks), ['GET']);
  if (responses.length !== 1) return { status: 0, body: Buffer.concat(chunks), rest: 0, ended };
  return { status: responses[0]!.status, body: responses[0]!.body, rest: rest.length, ended };
}

async function expectWholeResponses(port: number, target: string, fixture: Fixture, rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const r = await getThenHalfClose(port, target);
    assert.equal(r.status, 200, `round ${round}: a complete response (got ${r.body.length} bytes)`);
    assert.equal(sha256(r.body), fixture.sha256, `round ${round}: byte for byte`);
    assert.equal(r.rest, 0, 'nothing after it');
    assert.equal(r.ended, true, 'then the server closes cleanly (FIN)');
  }
}

describe('a client that half-closes after its request (issue 10 §2)', () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'www');
  let big: Fixture;
  let small: Fixture;

  before(() => {
    fs.mkdirSync(root);
    big = makeRandomFile(root, '1m.bin', 1 << 20);
    small = makeRandomFile(root, '4k.bin', 4 << 10);
  });
  after(() => tmp.remove());

  const variants: [name: string, options: ServeStaticOptions, file: () => Fixture, rounds: number][] = [
    ['the sendfile path, default options', {}, () => big, 200],
    ['the sendfile path, cache off (the FIN is read before the body starts)', { fileCache: { maxEntries: 0 } }, () => big, 200],
    ['the copy path', { method: 'copy' }, () => big, 50],
    ['the memory path', {}, () => small, 50],
    ["headerMode 'cork'", { headerMode: 'cork', fileCache: { maxEntries: 0 } }, () => big, 50],
  ];
  for (const [name, options, file, rounds] of variants) {
    it(`serveStatic on ${name}: the whole response, then a clean close, ${rounds} times`, async () => {
      const s = await startStatic(root, options);
      try {
        await expectWholeResponses(s.port, `/${path.basename(file().path)}`, file(), rounds);
      } finally {
        await s.close();
      }
    });
  }

  it('sendFileResponse: the whole response, then a clean close, 50 times', async () => {
    const server = http.createServer((req, res) => {
      sendFileResponse(req, res, '1m.bin', { root }).catch(() => res.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await expectWholeResponses((server.address() as net.AddressInfo).port, '/', big, 50);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('koaStatic: the whole response, then a clean close, 50 times', async () => {
    const app = new Koa();
    const files = koaStatic(root, { fileCache: { maxEntries: 0 } });
    app.use(files);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await expectWholeResponses((server.address() as net.AddressInfo).port, '/1m.bin', big, 50);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await files.close();
    }
  });

  it('fastifyStatic: the whole response, then a clean close, 50 times', async () => {
    const app = Fastify();
    const files = fastifyStatic(root, { fileCache: { maxEntries: 0 } });
    app.get('/*', files);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await expectWholeResponses((app.server.address() as net.AddressInfo).port, '/1m.bin', big, 50);
    } finally {
      await app.close();
      await files.close();
    }
  });
});
