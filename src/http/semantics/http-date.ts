/**
 * HTTP-date (RFC 9110 §5.6.7): parse the three forms a recipient must accept,
 * produce the one a sender must use. Pure: strings and milliseconds.
 *
 *   IMF-fixdate   Sun, 06 Nov 1994 08:49:37 GMT     (the only form we send)
 *   rfc850-date   Sunday, 06-Nov-94 08:49:37 GMT    (obsolete, two-digit year)
 *   asctime-date  Sun Nov  6 08:49:37 1994          (obsolete, day padded with SP)
 *
 * HTTP-date is case-sensitive (RFC 9110 §5.6.7), so `sun, 06 nov …` is not a
 * date. The weekday must be a real weekday name but is not checked against
 * the date (Go and nginx do not check it either): a wrong weekday is a client
 * bug, not a reason to disregard the timestamp.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
const DAY_SHORT = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun';
const DAY_LONG = 'Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday';
const TIME = '([0-9]{2}):([0-9]{2}):([0-9]{2})';

const IMF_FIXDATE = new RegExp(`^(?:${DAY_SHORT}), ([0-9]{2}) (${MONTH}) ([0-9]{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:${DAY_LONG}), ([0-9]{2})-(${MONTH})-([0-9]{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:${DAY_SHORT}) (${MONTH}) ( [0-9]|[0-9]{2}) ${TIME} ([0-9]{4})$`);

/**
 * RFC 850 years more than this far ahead of the current year belong to the
 * previous century (RFC 9110 §5.6.7). Decided at year granularity.
 */
const RFC850_FUTURE_WINDOW_YEARS = 50;

/**
 * Parses an HTTP-date in any of the three forms and returns its time in
 * milliseconds since the epoch (always a whole second), or undefined when the
 * value is not a valid HTTP-date (wrong form, impossible day or time). Field
 * values are trimmed of surrounding SP/HTAB first. `nowMs` only matters for
 * the two-digit years of rfc850-date.
 */
export function parseHttpDate(value: string, nowMs: number = Date.now()): number | undefined {
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  let match = IMF_FIXDATE.exec(text);
  if (match !== null) {
    const [, day, month, year, hour, minute, second] = match;
    return toEpochMs(Number(year), month!, Number(day), hour!, minute!, second!);
  }
  match = RFC850_DATE.exec(text);
  if (match !== null) {
    const [, day, month, shortYear, hour, minute, second] = match;
    return toEpochMs(expandTwoDigitYear(Number(shortYear), nowMs), month!, Number(day), hour!, minute!, second!);
  }
  match = ASCTIME_DATE.exec(text);
  if (match !== null) {
    const [, month, day, hour, minute, second, year] = match;
    return toEpochMs(Number(year), month!, Number(day!.trim()), hour!, minute!, second!);
  }
  return undefined;
}

/**
 * Formats milliseconds since the epoch as an IMF-fixdate, the form senders
 * must generate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
 * Sub-second precision is dropped (floored).
 */
export function formatHttpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

function expandTwoDigitYear(shortYear: number, nowMs: number): number {
  const nowYear = new Date(nowMs).getUTCFullYear();
  const year = Math.floor(nowYear / 100) * 100 + shortYear;
  return year > nowYear + RFC850_FUTURE_WINDOW_YEARS ? year - 100 : year;
}

function toEpochMs(year: number, monthName: string, day: number, hh: string, mm: string, ss: string): number | undefined {
  const month = MONTHS.indexOf(monthName);
  const hour = Number(hh);
  const minute = Number(mm);
  // 60 is a leap second (RFC 9110 §5.6.7: second = 00-60); it lands on the
  // next minute's first second, which is what the clock shows afterwards.
  const second = Number(ss);
  if (day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return undefined;
  // Date.UTC maps years 0-99 to 1900-1999, so set the full year separately
  // on midnight of the epoch and add the time of day.
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  return date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 1 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month]!;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
