import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { copyFileRange } from '../../src/index.js';
import { setNativeForTesting } from '../../src/native/capabilities.js';
import { hashFileRange, makeRandomFile, makeTempDir, type Fixture } from '../helpers/fixtures.js';

const MIB = 1 << 20;

for (const mode of ['kernel', 'forced copy', 'without the addon'] as const) {
  describe(`copyFileRange (${mode})`, () => {
    const tmp = makeTempDir();
    let source: Fixture;
    let restore = () => {};
    const options = mode === 'forced copy' ? { method: 'copy' as const } : {};
    const expectedMethod = mode === 'kernel' ? 'copy_file_range' : 'copy';
    before(() => {
      source = makeRandomFile(tmp.dir, 'source', 40 * MIB + 3);
      if (mode === 'without the addon') restore = setNativeForTesting(null);
    });
    after(() => {
      restore();
      tmp.remove();
    });

    it('copies a whole file between paths, creating the destination', async () => {
      const target = path.join(tmp.dir, `whole-${mode}`);
      const progress: number[] = [];
      const result = await copyFileRange(source.path, target, { ...options, onProgress: (n) => progress.push(n) });
      assert.deepEqual(result, { bytes: source.size, method: expectedMethod });
      assert.equal(hashFileRange(target), source.sha256);
      assert.equal(progress.at(-1), source.size);
      assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]!), 'progress only grows');
    });

    it('copies a range to an offset of an existing file, leaving the rest of it alone', async () => {
      const target = path.join(tmp.dir, `range-${mode}`);
      fs.writeFileSync(target, Buffer.alloc(2 * MIB, 0x61));
      const dst = fs.openSync(target, 'r+');
      try {
        const result = await copyFileRange(source.path, dst, { ...options, offset: 1000, dstOffset: 4096, length: MIB });
        assert.equal(result.bytes, MIB);
      } finally {
        fs.closeSync(dst);
      }
      const data = fs.readFileSync(target);
      assert.equal(data.length, 2 * MIB);
      assert.ok(data.subarray(0, 4096).every((b) => b === 0x61));
      assert.ok(data.subarray(4096 + MIB).every((b) => b === 0x61));
      assert.equal(hashFileRange(target, 4096, 4096 + MIB), hashFileRange(source.path, 1000, 1000 + MIB));
    });

    it('uses and advances both file positions when no offsets are given', async () => {
      const target = path.join(tmp.dir, `positions-${mode}`);
      const src = fs.openSync(source.path, 'r');
      const dst = fs.openSync(target, 'w');
      try {
        fs.readSync(src, Buffer.alloc(10), 0, 10, null);
        await copyFileRange(src, dst, { ...options, length: 100 });
        await copyFileRange(src, dst, { ...options, length: 100 });
        assert.equal(fs.readSync(src, Buffer.alloc(1), 0, 1, null), 1, 'source position moved to 210');
      } finally {
        fs.closeSync(src);
        fs.closeSync(dst);
      }
      assert.equal(hashFileRange(target), hashFileRange(source.path, 10, 210));
    });

    it('rejects with ZC_ERR_FILE_TRUNCATED when the source is shorter than length', async () => {
      const target = path.join(tmp.dir, `short-${mode}`);
      await assert.rejects(copyFileRange(source.path, target, { ...options, offset: source.size - 10, length: 20 }), {
        code: 'ZC_ERR_FILE_TRUNCATED',
        bytesWritten: 10,
      });
    });

    it('rejects with AbortError when the signal is already aborted', async () => {
      await assert.rejects(copyFileRange(source.path, path.join(tmp.dir, 'never'), { signal: AbortSignal.abort() }), {
        name: 'AbortError',
      });
      assert.equal(fs.existsSync(path.join(tmp.dir, 'never')), false, 'nothing was created');
    });
  });
}

describe('copyFileRange arguments', () => {
  it('rejects a missing source with ENOENT', async () => {
    await assert.rejects(copyFileRange('/nonexistent/zerocopy', '/tmp/x'), { code: 'ENOENT' });
  });
  it('rejects a non-function onProgress', async () => {
    await assert.rejects(copyFileRange('/dev/null', '/dev/null', { onProgress: 5 as never }), { code: 'ZC_ERR_INVALID_ARG' });
  });
});
