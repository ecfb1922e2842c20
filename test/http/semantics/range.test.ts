import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  MAX_RANGES,
  MAX_RANGE_REVERSALS,
  formatContentRange,
  formatUnsatisfiedRange,
  parseRange,
  sumRangeBytes,
  type RangeOptions,
  type RangeResult,
} from '../../../src/http/semantics/range.js';

// Expected outcome in table form: 'none' → 200, 'unsatisfiable' → 416,
// otherwise the half-open [start, end) pairs of a 206.
type Expected = 'none' | 'unsatisfiable' | Array<[number, number]>;

interface Case {
  name: string;
  header: string | undefined;
  size: number;
  expected: Expected;
  options?: RangeOptions;
}

function toExpected(result: RangeResult): Expected {
  if (result.kind !== 'ranges') return result.kind;
  return result.ranges.map((r) => [r.start, r.end]);
}

function runTable(cases: Case[]): void {
  for (const c of cases) {
    it(`${c.name}: ${JSON.stringify(c.header)} of ${c.size} → ${JSON.stringify(c.expected)}`, () => {
      assert.deepEqual(toExpected(parseRange(c.header, c.size, c.options)), c.expected);
    });
  }
}

const BIG = 10_000;
const UNSAFE = '9007199254740993'; // MAX_SAFE_INTEGER + 2
const HUGE = '9'.repeat(400);

describe('Range', () => {
  describe('when the header selects one range', () => {
    runTable([
      { name: 'first bytes', header: 'bytes=0-499', size: BIG, expected: [[0, 500]] },
      { name: 'single byte', header: 'bytes=0-0', size: BIG, expected: [[0, 1]] },
      { name: "Safari's probe", header: 'bytes=0-1', size: BIG, expected: [[0, 2]] },
      { name: 'last byte by position', header: 'bytes=9999-9999', size: BIG, expected: [[9999, 10000]] },
      { name: 'open-ended', header: 'bytes=500-', size: BIG, expected: [[500, BIG]] },
      { name: 'open-ended from zero', header: 'bytes=0-', size: BIG, expected: [[0, BIG]] },
      { name: 'suffix', header: 'bytes=-500', size: BIG, expected: [[9500, BIG]] },
      { name: 'suffix longer than the file', header: 'bytes=-20000', size: BIG, expected: [[0, BIG]] },
      { name: 'suffix equal to the file', header: 'bytes=-10000', size: BIG, expected: [[0, BIG]] },
      { name: 'last-pos past the end is clamped', header: 'bytes=9000-20000', size: BIG, expected: [[9000, BIG]] },
      { name: 'one-byte file', header: 'bytes=0-0', size: 1, expected: [[0, 1]] },
      { name: 'one-byte file suffix', header: 'bytes=-1', size: 1, expected: [[0, 1]] },
    ]);
  });

  describe('when the header is absent, malformed or of another unit', () => {
    runTable([
      { name: 'absent', header: undefined, size: BIG, expected: 'none' },
      { name: 'empty', header: '', size: BIG, expected: 'none' },
      { name: 'no equals sign', header: 'bytes', size: BIG, expected: 'none' },
      { name: 'other unit', header: 'items=0-5', size: BIG, expected: 'none' },
      { name: 'unit prefix only', header: 'byte=0-5', size: BIG, expected: 'none' },
      { name: 'no ranges', header: 'bytes=', size: BIG, expected: 'none' },
      { name: 'only commas', header: 'bytes=, ,', size: BIG, expected: 'none' },
      { name: 'dash only', header: 'bytes=-', size: BIG, expected: 'none' },
      { name: 'no dash', header: 'bytes=5', size: BIG, expected: 'none' },
      { name: 'letters', header: 'bytes=a-b', size: BIG, expected: 'none' },
      { name: 'garbage after range', header: 'bytes=0-5x', size: BIG, expected: 'none' },
      { name: 'garbage element in list', header: 'bytes=0-5,junk', size: BIG, expected: 'none' },
      { name: 'negative first-pos', header: 'bytes=-5-10', size: BIG, expected: 'none' },
      { name: 'double dash suffix', header: 'bytes=--5', size: BIG, expected: 'none' },
      { name: 'negative last-pos', header: 'bytes=5--1', size: BIG, expected: 'none' },
      { name: 'plus sign', header: 'bytes=+5-10', size: BIG, expected: 'none' },
      { name: 'hex', header: 'bytes=0x10-0x20', size: BIG, expected: 'none' },
      { name: 'exponent', header: 'bytes=1e3-2e3', size: BIG, expected: 'none' },
      { name: 'decimal point', header: 'bytes=1.5-2', size: BIG, expected: 'none' },
      { name: 'two dashes', header: 'bytes=1-2-3', size: BIG, expected: 'none' },
      { name: 'unicode digits', header: 'bytes=\u0661-\u0662', size: BIG, expected: 'none' },
      { name: 'last-pos before first-pos is invalid', header: 'bytes=500-499', size: BIG, expected: 'none' },
      { name: 'one invalid spec spoils the list', header: 'bytes=0-1,9-3', size: BIG, expected: 'none' },
      { name: 'invalid spec beyond the end', header: 'bytes=20000-10001', size: BIG, expected: 'none' },
    ]);
  });

  describe('when the header has unusual but valid syntax', () => {
    runTable([
      { name: 'unit in capitals', header: 'BYTES=0-4', size: BIG, expected: [[0, 5]] },
      { name: 'unit mixed case', header: 'Bytes=0-4', size: BIG, expected: [[0, 5]] },
      { name: 'spaces around the list', header: 'bytes= 0-4 , 10-14 ', size: BIG, expected: [[0, 5], [10, 15]] },
      { name: 'spaces around the dash', header: 'bytes=0 - 4', size: BIG, expected: [[0, 5]] },
      { name: 'tab before an element', header: 'bytes=\t0-4', size: BIG, expected: [[0, 5]] },
      { name: 'spaces around equals', header: 'bytes = 0-4', size: BIG, expected: [[0, 5]] },
      { name: 'empty list elements', header: 'bytes=,0-4,,10-14,', size: BIG, expected: [[0, 5], [10, 15]] },
      { name: 'leading zeros', header: 'bytes=0005-0009', size: BIG, expected: [[5, 10]] },
      { name: 'leading zeros in suffix', header: 'bytes=-0010', size: BIG, expected: [[9990, BIG]] },
      { name: 'all zeros first-pos', header: 'bytes=000-0', size: BIG, expected: [[0, 1]] },
      { name: 'leading zeros make an equal pair', header: 'bytes=7-0007', size: BIG, expected: [[7, 8]] },
    ]);
  });

  describe('when no range can be satisfied', () => {
    runTable([
      { name: 'first-pos at the size', header: 'bytes=10000-', size: BIG, expected: 'unsatisfiable' },
      { name: 'first-pos past the size', header: 'bytes=20000-30000', size: BIG, expected: 'unsatisfiable' },
      { name: 'zero suffix', header: 'bytes=-0', size: BIG, expected: 'unsatisfiable' },
      { name: 'zero suffix with zeros', header: 'bytes=-000', size: BIG, expected: 'unsatisfiable' },
      { name: 'all specs beyond the end', header: 'bytes=10000-10005, 20000-', size: BIG, expected: 'unsatisfiable' },
      { name: 'zero suffix and a range past the end', header: 'bytes=-0,10001-', size: BIG, expected: 'unsatisfiable' },
      { name: 'first byte past a one-byte file', header: 'bytes=1-1', size: 1, expected: 'unsatisfiable' },
    ]);
    it('formats the 416 Content-Range as bytes */size', () => {
      assert.equal(formatUnsatisfiedRange(BIG), 'bytes */10000');
      assert.equal(formatUnsatisfiedRange(0), 'bytes */0');
    });
  });

  describe('when some ranges are unsatisfiable', () => {
    runTable([
      { name: 'drops a range past the end', header: 'bytes=0-4,20000-', size: BIG, expected: [[0, 5]] },
      { name: 'drops a zero suffix', header: 'bytes=-0,0-4', size: BIG, expected: [[0, 5]] },
    ]);
  });

  describe('when the file is empty', () => {
    runTable([
      { name: 'range from zero', header: 'bytes=0-', size: 0, expected: 'none' },
      { name: 'closed range', header: 'bytes=0-0', size: 0, expected: 'none' },
      { name: 'suffix', header: 'bytes=-5', size: 0, expected: 'none' },
      { name: 'zero suffix', header: 'bytes=-0', size: 0, expected: 'none' },
      { name: 'range past the end', header: 'bytes=5-10', size: 0, expected: 'none' },
      { name: 'garbage', header: 'bytes=x', size: 0, expected: 'none' },
    ]);
  });

  describe('when numbers overflow', () => {
    runTable([
      { name: 'first-pos beyond MAX_SAFE_INTEGER', header: `bytes=${UNSAFE}-`, size: BIG, expected: 'unsatisfiable' },
      { name: 'first-pos of 400 digits', header: `bytes=${HUGE}-`, size: BIG, expected: 'unsatisfiable' },
      { name: 'both positions of 400 digits', header: `bytes=${HUGE}-${HUGE}`, size: BIG, expected: 'unsatisfiable' },
      { name: 'last-pos beyond MAX_SAFE_INTEGER', header: `bytes=100-${UNSAFE}`, size: BIG, expected: [[100, BIG]] },
      { name: 'last-pos of 400 digits', header: `bytes=100-${HUGE}`, size: BIG, expected: [[100, BIG]] },
      { name: 'suffix beyond MAX_SAFE_INTEGER', header: `bytes=-${UNSAFE}`, size: BIG, expected: [[0, BIG]] },
      { name: 'suffix of 400 digits', header: `bytes=-${HUGE}`, size: BIG, expected: [[0, BIG]] },
      { name: 'huge last-pos below huge first-pos', header: `bytes=${HUGE}-${UNSAFE}`, size: BIG, expected: 'none' },
      { name: 'last-pos one below a huge first-pos', header: `bytes=${UNSAFE}-9007199254740992`, size: BIG, expected: 'none' },
      {
        name: 'file of MAX_SAFE_INTEGER bytes, last byte',
        header: 'bytes=-1',
        size: Number.MAX_SAFE_INTEGER,
        expected: [[Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER]],
      },
      {
        name: 'file of MAX_SAFE_INTEGER bytes, from MAX_SAFE_INTEGER - 1',
        header: `bytes=${Number.MAX_SAFE_INTEGER - 1}-${UNSAFE}`,
        size: Number.MAX_SAFE_INTEGER,
        expected: [[Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER]],
      },
    ]);
  });

  describe('when several ranges are requested', () => {
    runTable([
      { name: 'two disjoint ranges', header: 'bytes=0-0,-1', size: BIG, expected: [[0, 1], [9999, BIG]] },
      { name: 'three disjoint ranges', header: 'bytes=0-9,100-109,200-209', size: BIG, expected: [[0, 10], [100, 110], [200, 210]] },
      { name: 'descending order is kept', header: 'bytes=200-209,0-9', size: BIG, expected: [[200, 210], [0, 10]] },
      { name: 'adjacent ranges are merged', header: 'bytes=0-9,10-19', size: BIG, expected: [[0, 20]] },
      { name: 'two overlapping ranges are merged', header: 'bytes=0-99,50-149', size: BIG, expected: [[0, 150]] },
      { name: 'contained range is merged', header: 'bytes=0-99,10-19', size: BIG, expected: [[0, 100]] },
      {
        name: 'merged part keeps the position of its first range',
        header: 'bytes=500-599,0-9,550-649',
        size: BIG,
        expected: [[500, 650], [0, 10]],
      },
      {
        name: 'merge across out-of-order ranges',
        header: 'bytes=20-29,0-9,10-19',
        size: BIG,
        expected: [[0, 30]],
      },
      {
        name: 'without coalescing, overlaps are kept as listed',
        header: 'bytes=0-99,50-149',
        size: BIG,
        options: { coalesce: false },
        expected: [[0, 100], [50, 150]],
      },
      {
        name: 'without coalescing, adjacent ranges stay apart',
        header: 'bytes=0-9,10-19',
        size: BIG,
        options: { coalesce: false },
        expected: [[0, 10], [10, 20]],
      },
    ]);
  });

  describe('when ranges exceed size', () => {
    runTable([
      { name: 'the whole file twice', header: 'bytes=0-,0-', size: BIG, expected: 'none' },
      { name: 'suffix plus open range', header: 'bytes=-6000,0-5000', size: BIG, expected: 'none' },
      { name: 'overlapping halves beyond the size', header: 'bytes=0-5999,4000-', size: BIG, expected: 'none' },
      { name: 'exactly the size is allowed', header: 'bytes=0-4999,5000-', size: BIG, expected: [[0, BIG]] },
    ]);
  });

  describe('when a byte is requested by more than two ranges', () => {
    runTable([
      { name: 'three identical small ranges', header: 'bytes=0-0,0-0,0-0', size: BIG, expected: 'none' },
      { name: 'three ranges sharing byte 5', header: 'bytes=0-5,5-9,3-7', size: BIG, expected: 'none' },
      { name: 'two overlaps at a time are fine', header: 'bytes=0-5,5-9,10-12', size: BIG, expected: [[0, 13]] },
      { name: 'touching half-open ends do not overlap', header: 'bytes=0-4,5-9,5-5', size: BIG, expected: [[0, 10]] },
    ]);
  });

  describe('when there are too many ranges', () => {
    const specs = (n: number): string =>
      'bytes=' + Array.from({ length: n }, (_, i) => `${i * 10}-${i * 10}`).join(',');
    it(`accepts MAX_RANGES (${MAX_RANGES}) ranges`, () => {
      const result = parseRange(specs(MAX_RANGES), BIG);
      assert.equal(result.kind, 'ranges');
      assert.equal(result.kind === 'ranges' && result.ranges.length, MAX_RANGES);
    });
    it('ignores Range and responds 200 with one more', () => {
      assert.deepEqual(parseRange(specs(MAX_RANGES + 1), BIG), { kind: 'none' });
    });
    it('counts unsatisfiable specs toward the cap', () => {
      assert.deepEqual(parseRange('bytes=0-0,50000-,60000-', BIG, { maxRanges: 2 }), { kind: 'none' });
    });
    it('does not count empty list elements', () => {
      assert.deepEqual(toExpected(parseRange('bytes=0-0,,,,5-5', BIG, { maxRanges: 2 })), [[0, 1], [5, 6]]);
    });
    it('ignores every Range with maxRanges 0', () => {
      assert.deepEqual(parseRange('bytes=0-0', BIG, { maxRanges: 0 }), { kind: 'none' });
    });
    it('serves only single ranges with maxRanges 1', () => {
      assert.deepEqual(toExpected(parseRange('bytes=0-0', BIG, { maxRanges: 1 })), [[0, 1]]);
      assert.deepEqual(parseRange('bytes=0-0,5-5', BIG, { maxRanges: 1 }), { kind: 'none' });
    });
    it('stops at the cap without reading the rest of a huge header', () => {
      const header = specs(MAX_RANGES + 1) + ',' + 'x'.repeat(100_000);
      assert.deepEqual(parseRange(header, BIG), { kind: 'none' });
    });
  });

  describe('when many ranges are out of order', () => {
    const descending = (n: number): string =>
      'bytes=' + Array.from({ length: n }, (_, i) => `${(n - i) * 10}-${(n - i) * 10}`).join(',');
    it(`accepts ${MAX_RANGE_REVERSALS} reversals`, () => {
      const result = parseRange(descending(MAX_RANGE_REVERSALS + 1), BIG);
      assert.equal(result.kind === 'ranges' && result.ranges.length, MAX_RANGE_REVERSALS + 1);
      assert.equal(result.kind === 'ranges' && result.ranges[0]!.start, (MAX_RANGE_REVERSALS + 1) * 10);
    });
    it('ignores Range and responds 200 beyond that', () => {
      assert.deepEqual(parseRange(descending(MAX_RANGE_REVERSALS + 2), BIG), { kind: 'none' });
    });
    it('accepts many small ranges in ascending order', () => {
      const ascending = 'bytes=' + Array.from({ length: 90 }, (_, i) => `${i * 10}-${i * 10}`).join(',');
      assert.equal(parseRange(ascending, BIG).kind, 'ranges');
    });
  });

  describe('when given bad arguments', () => {
    for (const size of [-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
      it(`throws ZC_ERR_INVALID_ARG for size ${size}`, () => {
        assert.throws(() => parseRange('bytes=0-0', size), { name: 'TypeError', code: 'ZC_ERR_INVALID_ARG' });
      });
    }
    it('throws ZC_ERR_INVALID_ARG for a negative maxRanges', () => {
      assert.throws(() => parseRange('bytes=0-0', 10, { maxRanges: -1 }), { code: 'ZC_ERR_INVALID_ARG' });
    });
  });
});

describe('formatContentRange', () => {
  const cases: Array<[start: number, end: number, size: number, expected: string]> = [
    [0, 500, 1234, 'bytes 0-499/1234'],
    [0, 1, 1, 'bytes 0-0/1'],
    [9999, 10000, 10000, 'bytes 9999-9999/10000'],
    [0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, `bytes 0-${Number.MAX_SAFE_INTEGER - 1}/${Number.MAX_SAFE_INTEGER}`],
  ];
  for (const [start, end, size, expected] of cases) {
    it(`turns half-open [${start}, ${end}) of ${size} into the inclusive "${expected}"`, () => {
      assert.equal(formatContentRange({ start, end }, size), expected);
    });
  }
});

describe('sumRangeBytes', () => {
  it('counts overlapping bytes twice', () => {
    assert.equal(sumRangeBytes([{ start: 0, end: 10 }, { start: 5, end: 15 }]), 20);
  });
});
