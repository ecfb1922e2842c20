/**
 * The `Range` request header (RFC 9110 §14) against a representation of a
 * known size. Pure: a header string and a size in, a decision out.
 *
 * Wire forms handled (RFC 9110 §14.1.1):
 *
 *   Range: bytes=0-499            first 500 bytes        → [0, 500)
 *   Range: bytes=500-             from 500 to the end    → [500, size)
 *   Range: bytes=-500             last 500 bytes         → [size - 500, size)
 *   Range: bytes=0-0, -1          first and last byte    → [0, 1), [size - 1, size)
 *
 * Inside the code every range is HALF-OPEN `{ start, end }`; only
 * `formatContentRange` produces the inclusive HTTP form `bytes 0-499/1234`.
 *
 * The decision, in the order it is taken (each rule names its precedent):
 *
 *  1. No header, an empty one, a unit other than `bytes` (case-insensitive,
 *     RFC 9110 §14.1), or any syntax error → `none`: ignore the header and
 *     send 200, as RFC 9110 §14.2 allows for an invalid ranges-specifier.
 *     An int-range whose last-pos is below its first-pos is *invalid*
 *     (RFC 9110 §14.1.1), so it also gives `none` (Go answers 416 here; the
 *     RFC lets us ignore, which cannot be worse for the client).
 *  2. A zero-length representation → `none`. No int-range can be satisfied
 *     and a 206 of zero bytes has no `Content-Range` form, so, like Go (which
 *     notes that some clients send Range on every request) and nginx, we send
 *     the empty 200.
 *  3. More range-specs than `maxRanges` → `none` (nginx `max_ranges`, Apache
 *     `MaxRanges`: the full representation). Counting stops at the cap, so a
 *     huge header costs at most `maxRanges` specs of work. `maxRanges: 0`
 *     disables range support.
 *  4. Unsatisfiable specs are dropped: an int-range whose first-pos is at or
 *     beyond the size, and `-0` (RFC 9110 §14.1.1: a suffix-range needs a
 *     non-zero length). If nothing is left → `unsatisfiable` (416 with
 *     `Content-Range: bytes *\/SIZE`, RFC 9110 §15.5.17).
 *  5. The satisfiable ranges add up to more bytes than the representation →
 *     `none` (Go's sumRangesSize check, nginx's `size > content_length`):
 *     a client asking for more than the whole file is broken or hostile.
 *  6. Any byte requested by three or more ranges → `none` (RFC 9110 §14.2:
 *     "more than two overlapping ranges" may be ignored).
 *  7. More than `MAX_RANGE_REVERSALS` ranges that start before the range
 *     listed just before them → `none` (RFC 9110 §14.2: "many small ranges
 *     that are not listed in ascending order"; the threshold is Apache's
 *     `MaxRangeReversals` default).
 *  8. With `coalesce` (the default), overlapping and adjacent ranges are
 *     merged (RFC 9110 §14.6 allows it regardless of order), and the merged
 *     parts keep the order in which their first range was listed (RFC 9110
 *     §15.3.7.2: parts SHOULD follow the request order).
 *
 * Numbers: digits only (no sign, no `+`, no hex, no exponent); leading zeros
 * are accepted (`007` is 7). Values beyond Number.MAX_SAFE_INTEGER cannot be
 * a position inside any file we serve, so they saturate: a huge first-pos is
 * unsatisfiable, a huge last-pos or suffix-length means "to the end". The
 * first-pos/last-pos comparison of rule 1 is made on the digit strings, so it
 * stays exact at any length. Whitespace (SP, HTAB) is accepted around list
 * elements, around `=` and around `-` (nginx and Go both tolerate it), and
 * empty list elements are skipped (RFC 9110 §5.6.1).
 */

import { createError } from '../../errors.js';

/** Default cap on the number of range-specs in one header. */
export const MAX_RANGES = 100;

/**
 * Ranges that may start before their predecessor in header order before the
 * set counts as abusive (Apache's `MaxRangeReversals` default).
 */
export const MAX_RANGE_REVERSALS = 20;

/** A half-open byte range: bytes `start` .. `end - 1` of the representation. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The outcome of `parseRange`:
 * - `none`: ignore the Range header and send the whole representation (200);
 * - `unsatisfiable`: send 416 with `formatUnsatisfiedRange(size)`;
 * - `ranges`: send 206 with these non-empty, in-bounds, half-open ranges
 *   (one range → single part; several → multipart/byteranges).
 */
export type RangeResult =
  | { kind: 'none' }
  | { kind: 'unsatisfiable' }
  | { kind: 'ranges'; ranges: ByteRange[] };

/** Options of `parseRange`. */
export interface RangeOptions {
  /** Most range-specs accepted; more → `none`. Default `MAX_RANGES`; 0 ignores every Range. */
  maxRanges?: number;
  /** Merge overlapping and adjacent ranges (default true). */
  coalesce?: boolean;
}

const NONE: RangeResult = Object.freeze({ kind: 'none' });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: 'unsatisfiable' });

// first-pos, optional OWS, "-", optional OWS, last-pos; either may be empty
// (both empty is rejected below). Digits only: no sign, no exponent.
const RANGE_SPEC = /^([0-9]*)[ \t]*-[ \t]*([0-9]*)$/;
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

/**
 * Parses a `Range` header value for a representation of `size` bytes and
 * decides between ignoring it, 416 and 206 (rules in the module comment).
 * `size` must be a non-negative safe integer (bytes). Never throws on header
 * content; throws ZC_ERR_INVALID_ARG (a TypeError) only for a bad `size` or
 * option, which is a programmer error.
 */
export function parseRange(header: string | undefined, size: number, options: RangeOptions = {}): RangeResult {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw createError('ZC_ERR_INVALID_ARG', ['size', 'a non-negative safe integer', size]);
  }
  const maxRanges = options.maxRanges ?? MAX_RANGES;
  if (!Number.isSafeInteger(maxRanges) || maxRanges < 0) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.maxRanges', 'a non-negative integer', maxRanges]);
  }
  if (header === undefined || header === '' || size === 0 || maxRanges === 0) return NONE;

  const equals = header.indexOf('=');
  if (equals < 0) return NONE;
  if (header.slice(0, equals).replace(OWS_EDGES, '').toLowerCase() !== 'bytes') return NONE;

  const satisfiable: ByteRange[] = [];
  let specCount = 0;
  for (const element of header.slice(equals + 1).split(',')) {
    const spec = element.replace(OWS_EDGES, '');
    if (spec === '') continue;
    specCount += 1;
    if (specCount > maxRanges) return NONE;
    const match = RANGE_SPEC.exec(spec);
    if (match === null) return NONE;
    const first = match[1]!;
    const last = match[2]!;
    if (first === '' && last === '') return NONE;

    if (first === '') {
      const suffixLength = toSaturatedInteger(last);
      if (suffixLength === 0) continue; // "-0" selects nothing: unsatisfiable
      satisfiable.push({ start: Math.max(0, size - suffixLength), end: size });
      continue;
    }
    if (last !== '' && compareDecimal(last, first) < 0) return NONE;
    const start = toSaturatedInteger(first);
    if (start >= size) continue; // starts past the end: unsatisfiable
    const end = last === '' ? size : Math.min(toSaturatedInteger(last) + 1, size);
    satisfiable.push({ start, end });
  }

  if (specCount === 0) return NONE;
  if (satisfiable.length === 0) return UNSATISFIABLE;
  if (sumRangeBytes(satisfiable) > size) return NONE;
  if (satisfiable.length > 2 && hasTripleOverlap(satisfiable)) return NONE;
  if (countReversals(satisfiable) > MAX_RANGE_REVERSALS) return NONE;
  const ranges = (options.coalesce ?? true) ? coalesceRanges(satisfiable) : satisfiable;
  return { kind: 'ranges', ranges };
}

/**
 * Formats a satisfied range for `Content-Range` (RFC 9110 §14.4): the one
 * place the half-open `{ start, end }` becomes the inclusive wire form.
 * `{ start: 0, end: 500 }` of 1234 bytes → `bytes 0-499/1234`.
 * The range must be non-empty and inside `size`.
 */
export function formatContentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end - 1}/${size}`;
}

/** The `Content-Range` of a 416 response (RFC 9110 §14.4): `bytes *\/SIZE`. */
export function formatUnsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

/** Total bytes the ranges select, counting overlaps twice. */
export function sumRangeBytes(ranges: readonly ByteRange[]): number {
  let total = 0;
  for (const range of ranges) total += range.end - range.start;
  return total;
}

// Digit strings → number; anything above MAX_SAFE_INTEGER becomes Infinity.
// Number() rounds monotonically and MAX_SAFE_INTEGER + 1 is representable, so
// "> MAX_SAFE_INTEGER" is decided exactly even though the value is not.
function toSaturatedInteger(digits: string): number {
  const value = Number(digits);
  return value > Number.MAX_SAFE_INTEGER ? Infinity : value;
}

// Compares two non-empty decimal digit strings by value, at any length.
function compareDecimal(a: string, b: string): number {
  const x = a.replace(/^0+(?=.)/, '');
  const y = b.replace(/^0+(?=.)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

// True when some byte lies in three or more ranges. Sweep over the sorted
// boundaries; at equal positions ends come before starts because the ranges
// are half-open ([0,5) and [5,9) share no byte).
function hasTripleOverlap(ranges: readonly ByteRange[]): boolean {
  const events: Array<[position: number, delta: number]> = [];
  for (const range of ranges) events.push([range.start, 1], [range.end, -1]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let depth = 0;
  for (const [, delta] of events) {
    depth += delta;
    if (depth > 2) return true;
  }
  return false;
}

// Ranges that start before the range listed just before them.
function countReversals(ranges: readonly ByteRange[]): number {
  let reversals = 0;
  for (let i = 1; i < ranges.length; i++) if (ranges[i]!.start < ranges[i - 1]!.start) reversals += 1;
  return reversals;
}

// Merges overlapping and adjacent ranges; each merged range takes the header
// position of the earliest range it absorbed.
function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  if (ranges.length === 1) return [{ ...ranges[0]! }];
  const byStart = ranges.map((range, index) => ({ ...range, index })).sort((a, b) => a.start - b.start);
  const merged: Array<ByteRange & { index: number }> = [];
  for (const range of byStart) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && range.start <= previous.end) {
      previous.end = Math.max(previous.end, range.end);
      previous.index = Math.min(previous.index, range.index);
    } else {
      merged.push({ ...range });
    }
  }
  return merged.sort((a, b) => a.index - b.index).map(({ start, end }) => ({ start, end }));
}
