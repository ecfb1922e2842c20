/**
 * Issue 11: a small cached file is answered synchronously with its
 * precomputed head. That answer must be the general path's, byte for byte
 * and header for header, and the fast path must step aside whenever the
 * request or earlier middleware could change the answer.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../../helpers/fixtures.js';
import { rawGet, startStatic, type StaticTestServer } from '../static-helpers.js';

/** Header lines of a raw response, without Date (it moves) and Connection/Keep-Alive. */
function headLines(raw: Buffer): string[] {
  const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1').split('\r\n');
  return head.filter((line) => !/^(date|connection|keep-alive):/i.test(line));
}

describe('issue 11: the synchronous answer for a small cached file', () => {
  const tmp = makeTempDir();
  let small: Fixture;
  let server: StaticTestServer;
  before(async () => {
    small = makeRandomFile(tmp.dir, 'small.js', 4096);
    server = await startStatic(tmp.dir, { maxAge: '1h' });
  });
  after(async () => {
    await server.close();
    tmp.remove();
  });

  it('gives the same status line, headers and bytes as the general path', async () => {
    const cache = await server.handler.fileCache();
    const first = await rawGet(server.port, '/small.js'); // a miss: the general path opens and caches it
    const hitsBefore = cache.stats.hits;
    const second = await rawGet(server.port, '/small.js'); // a hit from memory: the fast path
    assert.equal(cache.stats.hits, hitsBefore + 1, 'the second request was a cache hit');
    assert.deepEqual(headLines(second.raw), headLines(first.raw));
    assert.equal(second.status, 200);
    assert.equal(sha256(second.body), small.sha256);
    assert.equal(server.bodies.at(-1)?.method, 'memory');
    const head = await rawGet(server.port, '/small.js', '', 'HEAD');
    assert.deepEqual(headLines(head.raw), headLines(first.raw), 'HEAD: the same head');
    assert.equal(head.body.length, 0);
  });

  it('steps aside for ranges and preconditions (the general path answers them)', async () => {
    await rawGet(server.port, '/small.js');
    const range = await rawGet(server.port, '/small.js', 'Range: bytes=0-9\r\n');
    assert.equal(range.status, 206);
    assert.equal(range.body.length, 10);
    const etag = /ETag: (.*)/i.exec(headLines(range.raw).join('\n'))![1]!.trim();
    const notModified = await rawGet(server.port, '/small.js', `If-None-Match: ${etag}\r\n`);
    assert.equal(notModified.status, 304);
  });

  it('steps aside when earlier middleware set a header the representation owns', async () => {
    const custom = await startStatic(tmp.dir, {}, (_req, res) => {
      res.setHeader('Content-Type', 'text/x-custom');
      return () => {};
    });
    try {
      await rawGet(custom.port, '/small.js');
      // startStatic's hook sets the header before the handler runs, for every request.
      const hit = await rawGet(custom.port, '/small.js');
      assert.match(headLines(hit.raw).join('\n'), /Content-Type: text\/x-custom/i);
    } finally {
      await custom.close();
    }
  });

  it('serves the new bytes on the request right after a rewrite (the same freshness check)', async () => {
    const file = path.join(tmp.dir, 'edited.txt');
    fs.writeFileSync(file, 'old old old');
    await rawGet(server.port, '/edited.txt');
    await rawGet(server.port, '/edited.txt');
    fs.writeFileSync(file, 'new');
    const fresh = await rawGet(server.port, '/edited.txt');
    assert.equal(fresh.body.toString(), 'new');
  });
});
