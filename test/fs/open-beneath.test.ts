import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { closeRoot, openBeneath, openRoot, probeOpenat2, resetOpenat2ProbeForTesting, type Root } from '../../src/fs/open-beneath.js';
import { getNative, setNativeForTesting } from '../../src/native/capabilities.js';
import { errnoOf } from '../../src/native/errno.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';

function readFd(fd: number): string {
  const out = Buffer.alloc(100);
  const n = fs.readSync(fd, out, 0, 100, 0);
  fs.closeSync(fd);
  return out.subarray(0, n).toString();
}

/**
 * The addon as it behaves under a seccomp profile that refuses openat2 with
 * EPERM (older Docker): every other call is the real one.
 */
function withOpenat2Refused() {
  const native = getNative()!;
  return { ...native, openat2: async () => errnoOf('EPERM') };
}

describe('openat2 probe', () => {
  it('reports openat2 unavailable when it is refused with EPERM (seccomp), and available here otherwise', async () => {
    resetOpenat2ProbeForTesting();
    const restore = setNativeForTesting(withOpenat2Refused());
    try {
      const refused = await probeOpenat2();
      assert.equal(refused.available, false);
      assert.match(refused.reason ?? '', /EPERM/);
    } finally {
      restore();
      resetOpenat2ProbeForTesting();
    }
    if (getNative()) assert.deepEqual(await probeOpenat2(), { available: true });
  });
});

for (const mode of ['openat2', 'open + /proc/self/fd check', 'openat2 refused by seccomp (EPERM)'] as const) {
  const needsAddon = mode !== 'open + /proc/self/fd check' && !getNative();
  describe(`openBeneath (${mode})`, { skip: needsAddon ? 'the addon is not built on this platform' : false }, () => {
    const tmp = makeTempDir();
    const rootDir = path.join(tmp.dir, 'root');
    let root: Root;
    let restore = () => {};
    before(async () => {
      fs.mkdirSync(path.join(rootDir, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(rootDir, 'sub', 'inside.txt'), 'inside');
      fs.writeFileSync(path.join(tmp.dir, 'outside.txt'), 'outside');
      fs.symlinkSync('inside.txt', path.join(rootDir, 'sub', 'link-inside'));
      fs.symlinkSync('../../outside.txt', path.join(rootDir, 'sub', 'link-outside'));
      fs.symlinkSync('/etc/hostname', path.join(rootDir, 'absolute-link'));
      fs.symlinkSync('..', path.join(rootDir, 'parent-dir-link'));
      execFileSync('mkfifo', [path.join(rootDir, 'fifo')]);
      if (mode === 'open + /proc/self/fd check') restore = setNativeForTesting(null);
      if (mode === 'openat2 refused by seccomp (EPERM)') {
        resetOpenat2ProbeForTesting();
        const undo = setNativeForTesting(withOpenat2Refused());
        restore = () => {
          undo();
          resetOpenat2ProbeForTesting();
        };
      }
      root = await openRoot(rootDir);
    });
    after(() => {
      closeRoot(root);
      restore();
      tmp.remove();
    });

    it('opens a file beneath the root', async () => {
      assert.equal(readFd(await openBeneath(root, 'sub/inside.txt')), 'inside');
    });

    it('follows a symlink that stays inside the root', async () => {
      assert.equal(readFd(await openBeneath(root, 'sub/link-inside')), 'inside');
    });

    it('refuses a relative symlink that escapes the root with EXDEV', async () => {
      await assert.rejects(openBeneath(root, 'sub/link-outside'), { code: 'EXDEV' });
    });

    it('refuses an absolute symlink with EXDEV', async () => {
      await assert.rejects(openBeneath(root, 'absolute-link'), { code: 'EXDEV' });
    });

    it('refuses a path through a symlink to the parent directory', async () => {
      await assert.rejects(openBeneath(root, 'parent-dir-link/outside.txt'), { code: 'EXDEV' });
    });

    it('refuses a raw .. path even if a caller forgot to clean it', async () => {
      await assert.rejects(openBeneath(root, '../outside.txt'), { code: 'EXDEV' });
    });

    it('follows escaping symlinks when followSymlinks is set', async () => {
      assert.equal(readFd(await openBeneath(root, 'sub/link-outside', { followSymlinks: true })), 'outside');
    });

    it('reports ENOENT for a missing file', async () => {
      await assert.rejects(openBeneath(root, 'sub/missing'), { code: 'ENOENT' });
    });

    it('opens a FIFO without hanging (O_NONBLOCK)', async () => {
      const fd = await withTimeout(openBeneath(root, 'fifo'), 2000, 'open of a FIFO');
      assert.ok(fs.fstatSync(fd).isFIFO());
      fs.closeSync(fd);
    });
  });
}
