import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { PipePool } from '../../src/transfer/pipe-pool.js';
import { openFdCount } from '../helpers/process.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'pipe-limit-child.js');

describe('PipePool', () => {
  it('lends at most maxPipes pipes and reuses returned empty ones', () => {
    const pool = new PipePool({ maxPipes: 2 });
    const a = pool.acquire()!;
    const b = pool.acquire()!;
    assert.equal(pool.acquire(), undefined, 'exhausted');
    pool.release(a, 0);
    const c = pool.acquire()!;
    assert.equal(c.readFd, a.readFd, 'an empty pipe is reused');
    pool.release(b, 0);
    pool.release(c, 0);
    pool.drain();
    assert.equal(pool.size, 0);
  });

  it('closes a pipe returned with bytes still inside instead of reusing it', () => {
    const pool = new PipePool({ maxPipes: 1 });
    const fds = openFdCount();
    const pipe = pool.acquire()!;
    assert.equal(openFdCount(), fds + 2);
    pool.release(pipe, 10);
    assert.equal(openFdCount(), fds, 'both ends closed');
    const next = pool.acquire()!;
    assert.ok(next, 'the slot is free again');
    pool.release(next, 0);
    pool.drain();
  });

  const canDropPrivileges = process.getuid?.() === 0;
  it('keeps working with smaller pipes when an unprivileged user exceeds fs.pipe-user-pages-soft',
    { skip: canDropPrivileges ? false : 'needs root to run the child as nobody' }, () => {
      // Root bypasses the per-user pipe limits, which would hide the failure.
      const child = spawnSync(process.execPath, [CHILD], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 30000 });
      assert.equal(child.status, 0, child.stderr);
      const seen = JSON.parse(child.stdout);
      assert.equal(seen.acquired, 120, 'a refused F_SETPIPE_SZ never fails the pipe');
      assert.equal(seen.largest, 1 << 20);
      assert.ok(seen.smallest < 1 << 20, `some pipes kept a smaller size (smallest ${seen.smallest})`);
      assert.equal(seen.roundTrip, true);
    });
});
