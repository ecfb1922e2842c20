import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatHttpDate, parseHttpDate } from '../../../src/http/semantics/http-date.js';

// Sun, 06 Nov 1994 08:49:37 GMT, the RFC 9110 §5.6.7 example.
const EXAMPLE_MS = 784111777000;
const NOW_2025_MS = Date.UTC(2025, 5, 1);

describe('HTTP-date', () => {
  describe('when parsing a valid date', () => {
    const cases: Array<[name: string, value: string, expected: number]> = [
      ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT', EXAMPLE_MS],
      ['rfc850-date', 'Sunday, 06-Nov-94 08:49:37 GMT', EXAMPLE_MS],
      ['asctime-date with a space-padded day', 'Sun Nov  6 08:49:37 1994', EXAMPLE_MS],
      ['asctime-date with a two-digit day', 'Wed Nov 16 08:49:37 1994', Date.UTC(1994, 10, 16, 8, 49, 37)],
      ['asctime-date with a zero-padded day (2DIGIT is allowed)', 'Sun Nov 06 08:49:37 1994', EXAMPLE_MS],
      ['IMF-fixdate inside surrounding whitespace', ' \tSun, 06 Nov 1994 08:49:37 GMT ', EXAMPLE_MS],
      ['the epoch', 'Thu, 01 Jan 1970 00:00:00 GMT', 0],
      ['29 February of a leap year', 'Tue, 29 Feb 2000 12:00:00 GMT', Date.UTC(2000, 1, 29, 12)],
      ['a leap second, as the next minute', 'Sat, 31 Dec 2016 23:59:60 GMT', Date.UTC(2017, 0, 1)],
      ['a wrong weekday (not checked, like Go and nginx)', 'Mon, 06 Nov 1994 08:49:37 GMT', EXAMPLE_MS],
      ['a two-digit year kept in this century', 'Sunday, 06-Nov-30 08:49:37 GMT', Date.UTC(2030, 10, 6, 8, 49, 37)],
      ['a two-digit year 50 years ahead', 'Sunday, 06-Nov-75 08:49:37 GMT', Date.UTC(2075, 10, 6, 8, 49, 37)],
      ['a two-digit year more than 50 years ahead', 'Sunday, 06-Nov-76 08:49:37 GMT', Date.UTC(1976, 10, 6, 8, 49, 37)],
    ];
    for (const [name, value, expected] of cases) {
      it(`reads ${name}: ${JSON.stringify(value)}`, () => {
        assert.equal(parseHttpDate(value, NOW_2025_MS), expected);
      });
    }
    it('reads a four-digit year below 100 literally (no 1900 offset)', () => {
      const ms = parseHttpDate('Sat, 01 Jan 0099 00:00:00 GMT');
      assert.equal(new Date(ms!).getUTCFullYear(), 99);
    });
  });

  describe('when the value is not an HTTP-date', () => {
    const cases: Array<[name: string, value: string]> = [
      ['empty', ''],
      ['lower-case (HTTP-date is case-sensitive)', 'sun, 06 nov 1994 08:49:37 gmt'],
      ['UTC instead of GMT', 'Sun, 06 Nov 1994 08:49:37 UTC'],
      ['a numeric offset', 'Sun, 06 Nov 1994 08:49:37 +0000'],
      ['no zone', 'Sun, 06 Nov 1994 08:49:37'],
      ['ISO 8601', '1994-11-06T08:49:37Z'],
      ['a number', '784111777'],
      ['a one-digit day in IMF-fixdate', 'Sun, 6 Nov 1994 08:49:37 GMT'],
      ['a two-digit year in IMF-fixdate', 'Sun, 06 Nov 94 08:49:37 GMT'],
      ['a long weekday in IMF-fixdate', 'Sunday, 06 Nov 1994 08:49:37 GMT'],
      ['a short weekday in rfc850-date', 'Sun, 06-Nov-94 08:49:37 GMT'],
      ['an unknown month', 'Sun, 06 Foo 1994 08:49:37 GMT'],
      ['30 February', 'Sun, 30 Feb 1994 08:49:37 GMT'],
      ['29 February of 1900 (not a leap year)', 'Thu, 29 Feb 1900 00:00:00 GMT'],
      ['31 April', 'Sun, 31 Apr 1994 08:49:37 GMT'],
      ['day 00', 'Sun, 00 Nov 1994 08:49:37 GMT'],
      ['hour 24', 'Sun, 06 Nov 1994 24:00:00 GMT'],
      ['minute 60', 'Sun, 06 Nov 1994 08:60:37 GMT'],
      ['second 61', 'Sun, 06 Nov 1994 08:49:61 GMT'],
      ['asctime with an unpadded one-digit day', 'Sun Nov 6 08:49:37 1994'],
      ['trailing garbage', 'Sun, 06 Nov 1994 08:49:37 GMT x'],
      ['two dates (a list)', 'Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT'],
    ];
    for (const [name, value] of cases) {
      it(`rejects ${name}: ${JSON.stringify(value)}`, () => {
        assert.equal(parseHttpDate(value, NOW_2025_MS), undefined);
      });
    }
  });

  describe('when formatting', () => {
    it('produces IMF-fixdate and drops milliseconds', () => {
      assert.equal(formatHttpDate(EXAMPLE_MS + 999), 'Sun, 06 Nov 1994 08:49:37 GMT');
    });
    it('round-trips through parseHttpDate at second resolution', () => {
      const ms = Date.UTC(2024, 1, 29, 23, 59, 59, 640);
      assert.equal(parseHttpDate(formatHttpDate(ms)), ms - 640);
    });
  });
});
