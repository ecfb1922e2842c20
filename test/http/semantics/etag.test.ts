import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { computeETag } from '../../../src/http/semantics/etag.js';

// 2023-11-14T22:13:20Z; 0x6553f100 seconds, 0x18bcfe56800 milliseconds.
const MTIME_MS = 1_700_000_000_000;

describe('ETag', () => {
  describe('when strong (the default, nginx format)', () => {
    const cases: Array<[name: string, size: number, mtimeMs: number, expected: string]> = [
      ['28 bytes', 28, MTIME_MS, '"6553f100-1c"'],
      ['an empty file', 0, MTIME_MS, '"6553f100-0"'],
      ['sub-second mtime floors to the second', 28, MTIME_MS + 999.9, '"6553f100-1c"'],
      ['the epoch', 1, 0, '"0-1"'],
      ['a 4 GiB file', 4 * 1024 ** 3, MTIME_MS, '"6553f100-100000000"'],
      ['the largest safe size', Number.MAX_SAFE_INTEGER, MTIME_MS, '"6553f100-1fffffffffffff"'],
    ];
    for (const [name, size, mtimeMs, expected] of cases) {
      it(`formats ${name} as ${expected}`, () => {
        assert.equal(computeETag({ size, mtimeMs }), expected);
        assert.equal(computeETag({ size, mtimeMs }, { mode: 'strong' }), expected);
      });
    }
  });

  describe('when strong with the exact mtime in nanoseconds', () => {
    const NS = 1_700_000_000n * 1_000_000_000n;
    const cases: Array<[name: string, mtimeNs: bigint, expected: string]> = [
      ['a whole second (nginx\'s tag, unchanged)', NS, '"6553f100-1c"'],
      ['half a second later', NS + 500_000_000n, '"6553f100.1dcd6500-1c"'],
      ['one nanosecond later', NS + 1n, '"6553f100.1-1c"'],
      ['the last nanosecond of the second', NS + 999_999_999n, '"6553f100.3b9ac9ff-1c"'],
    ];
    for (const [name, mtimeNs, expected] of cases) {
      it(`formats ${name} as ${expected}`, () => {
        assert.equal(computeETag({ size: 28, mtimeMs: Number(mtimeNs / 1_000_000n), mtimeNs }), expected);
      });
    }
    it('tells apart two versions of one size written within the same second (nginx\'s seconds could not)', () => {
      const a = computeETag({ size: 28, mtimeMs: MTIME_MS + 100, mtimeNs: 1_700_000_000_100_000_000n });
      const b = computeETag({ size: 28, mtimeMs: MTIME_MS + 100, mtimeNs: 1_700_000_000_100_000_150n });
      assert.notEqual(a, b);
      assert.equal(computeETag({ size: 28, mtimeMs: MTIME_MS + 100 }), computeETag({ size: 28, mtimeMs: MTIME_MS + 900 }));
    });
    it('keeps the content-coding suffix', () => {
      assert.equal(computeETag({ size: 163, mtimeMs: MTIME_MS, mtimeNs: 1_700_000_000_000_000_001n }, { encoding: 'br' }), '"6553f100.1-a3-br"');
    });
  });

  describe("when weak (send's format, etag package stat mode)", () => {
    // Hard-coded: W/" + size.toString(16) + "-" + mtime.getTime().toString(16) + "
    const cases: Array<[name: string, size: number, mtimeMs: number, expected: string]> = [
      ['28 bytes', 28, MTIME_MS, 'W/"1c-18bcfe56800"'],
      ['an empty file', 0, MTIME_MS, 'W/"0-18bcfe56800"'],
      ['with milliseconds', 28, MTIME_MS + 123, 'W/"1c-18bcfe5687b"'],
      ['fractional milliseconds round like stats.mtime', 28, MTIME_MS + 123.5, 'W/"1c-18bcfe5687c"'],
      ['fractional milliseconds below half round down', 28, MTIME_MS + 123.499, 'W/"1c-18bcfe5687b"'],
      ['the RFC 9110 example date', 4096, 784111777000, 'W/"1000-b690b434e8"'],
    ];
    for (const [name, size, mtimeMs, expected] of cases) {
      it(`formats ${name} as ${expected}`, () => {
        assert.equal(computeETag({ size, mtimeMs }, { mode: 'weak' }), expected);
      });
    }
    it('matches the etag algorithm applied to the Date that fs.Stats would carry', () => {
      const mtimeMs = MTIME_MS + 641.7;
      const mtime = new Date(Math.round(mtimeMs)); // what Node's stats.mtime holds
      const expected = 'W/"' + (5000).toString(16) + '-' + mtime.getTime().toString(16) + '"';
      assert.equal(computeETag({ size: 5000, mtimeMs }, { mode: 'weak' }), expected);
    });
  });

  describe('when the file is a precompressed sibling', () => {
    it('appends the content-coding inside the quotes of a strong tag', () => {
      assert.equal(computeETag({ size: 163, mtimeMs: MTIME_MS }, { encoding: 'br' }), '"6553f100-a3-br"');
    });
    it('appends the content-coding inside the quotes of a weak tag', () => {
      assert.equal(computeETag({ size: 163, mtimeMs: MTIME_MS }, { mode: 'weak', encoding: 'gzip' }), 'W/"a3-18bcfe56800-gzip"');
    });
    it('differs per encoding even when size and mtime coincide', () => {
      const file = { size: 163, mtimeMs: MTIME_MS };
      const tags = new Set([computeETag(file), computeETag(file, { encoding: 'br' }), computeETag(file, { encoding: 'gzip' }), computeETag(file, { encoding: 'zstd' })]);
      assert.equal(tags.size, 4);
    });
  });

  describe('when given bad arguments', () => {
    const bad: Array<[name: string, run: () => string]> = [
      ['a negative size', () => computeETag({ size: -1, mtimeMs: 0 })],
      ['a fractional size', () => computeETag({ size: 1.5, mtimeMs: 0 })],
      ['a NaN mtime', () => computeETag({ size: 1, mtimeMs: NaN })],
      ['an encoding with a quote', () => computeETag({ size: 1, mtimeMs: 0 }, { encoding: 'br"' })],
      ['an upper-case encoding', () => computeETag({ size: 1, mtimeMs: 0 }, { encoding: 'BR' })],
      ['an empty encoding', () => computeETag({ size: 1, mtimeMs: 0 }, { encoding: '' })],
    ];
    for (const [name, run] of bad) {
      it(`throws ZC_ERR_INVALID_ARG for ${name}`, () => {
        assert.throws(run, { name: 'TypeError', code: 'ZC_ERR_INVALID_ARG' });
      });
    }
  });
});
