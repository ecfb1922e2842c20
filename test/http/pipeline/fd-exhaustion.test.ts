/**
 * A static server at its fd limit (RLIMIT_NOFILE) still answers in full:
 * when the transfer's dup() of the socket finds no free fd, the body goes
 * out by copy through Node, byte for byte, and says why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { makeRandomFile, makeTempDir } from '../../helpers/fixtures.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'emfile-static-child.js');

describe('static server out of file descriptors', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(() => {
    tmp = makeTempDir();
    makeRandomFile(tmp.dir, 'big.bin', 1 << 20);
  });
  after(() => tmp.remove());

  for (const headerMode of ['prefix', 'cork'] as const) {
    it(`serves a whole body and a multipart range by copy when dup() fails with EMFILE (headerMode '${headerMode}')`, () => {
      const run = spawnSync('bash', ['-c', `ulimit -n 128 && exec "${process.execPath}" "${child}" "$@"`, 'child', tmp.dir, headerMode], { encoding: 'utf8', timeout: 60000 });
      assert.equal(run.status, 0, run.stderr);
      const seen = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
      assert.ok(seen.filled > 0, 'the fd table was filled');
      assert.equal(seen.whole.status, 200);
      assert.ok(seen.whole.matches, 'the whole body is byte-for-byte the file');
      assert.equal(seen.ranges.status, 206);
      const boundary = /boundary=(\S+)/.exec(seen.ranges.contentType)![1]!;
      const body = Buffer.from(seen.ranges.body, 'base64').toString('latin1');
      const parts = body.split(`--${boundary}`).slice(1, -1).map((part: string) => Buffer.from(part.slice(part.indexOf('\r\n\r\n') + 4, -2), 'latin1').toString('base64'));
      assert.deepEqual(parts, [seen.expected.first, seen.expected.second]);
      assert.deepEqual(seen.bodies.map((b: { method: string; reason?: string }) => [b.method, b.reason]), [['copy', 'fd-exhausted'], ['copy', 'fd-exhausted']]);
    });
  }
});
