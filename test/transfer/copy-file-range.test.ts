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

    describe('when source and destination are one file', () => {
      it('issue-9: refuses the same path, a symlink and a hard link with ZC_ERR_SAME_FILE, leaving the bytes intact', async () => {
        const file = makeRandomFile(tmp.dir, `self-${mode}`, MIB + 7);
        const link = path.join(tmp.dir, `self-symlink-${mode}`);
        const hard = path.join(tmp.dir, `self-hardlink-${mode}`);
        fs.symlinkSync(file.path, link);
        fs.linkSync(file.path, hard);
        const dotted = path.join(tmp.dir, '..', path.basename(tmp.dir), path.basename(file.path));
        for (const dst of [file.path, link, hard, dotted]) {
          await assert.rejects(copyFileRange(file.path, dst, options), (error: NodeJS.ErrnoException) => {
            assert.equal(error.code, 'ZC_ERR_SAME_FILE');
            assert.equal(error.message, `'${file.path}' and '${dst}' are the same file`);
            return true;
          }, dst);
          assert.equal(hashFileRange(file.path), file.sha256, `intact after ${dst}`);
        }
        const fd = fs.openSync(file.path, 'r');
        try {
          await assert.rejects(copyFileRange(fd, link, options), { code: 'ZC_ERR_SAME_FILE', message: `'fd ${fd}' and '${link}' are the same file` });
        } finally {
          fs.closeSync(fd);
        }
        assert.equal(hashFileRange(file.path), file.sha256);
      });

      it('issue-9: refuses an overlapping destination offset instead of reading its own output', async () => {
        const file = makeRandomFile(tmp.dir, `overlap-${mode}`, 64 << 10);
        const handle = await fs.promises.open(file.path, 'r+');
        try {
          await assert.rejects(copyFileRange(file.path, handle, { ...options, dstOffset: 4 }), {
            code: 'ZC_ERR_OVERLAPPING_RANGES',
            message: `The source range [0, ${file.size}) and the destination range [4, ${file.size + 4}) overlap in the same file`,
          });
          await assert.rejects(copyFileRange(handle.fd, handle, { ...options, offset: 100, dstOffset: 50, length: 60 }), {
            code: 'ZC_ERR_OVERLAPPING_RANGES',
          });
          await assert.rejects(copyFileRange(handle.fd, handle.fd, { ...options, dstOffset: 0 }), {
            code: 'ZC_ERR_INVALID_ARG',
            message: /"options\.offset" argument must be a byte offset when src and dst are the same file/,
          });
        } finally {
          await handle.close();
        }
        assert.equal(fs.statSync(file.path).size, file.size, 'not grown');
        assert.equal(hashFileRange(file.path), file.sha256, 'not changed');
      });

      it('copies between disjoint ranges of one file', async () => {
        const file = makeRandomFile(tmp.dir, `disjoint-${mode}`, 8192);
        const before = fs.readFileSync(file.path);
        const handle = await fs.promises.open(file.path, 'r+');
        try {
          // To EOF from 4096 means the 4096 bytes there now: the copy appends, and stops.
          const result = await copyFileRange(file.path, handle, { ...options, offset: 4096, dstOffset: 8192 });
          assert.equal(result.bytes, 4096);
          await copyFileRange(handle.fd, handle.fd, { ...options, offset: 0, dstOffset: 2048, length: 2048 });
        } finally {
          await handle.close();
        }
        const after = fs.readFileSync(file.path);
        assert.equal(after.length, 12288);
        assert.deepEqual(after.subarray(8192), before.subarray(4096));
        assert.deepEqual(after.subarray(2048, 4096), before.subarray(0, 2048));
        assert.deepEqual(after.subarray(0, 2048), before.subarray(0, 2048));
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
