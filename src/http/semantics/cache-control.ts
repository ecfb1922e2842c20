/**
 * The `Cache-Control` header of served files, from serve-static's options:
 * `maxAge` in MILLISECONDS (a number, or an ms-style string such as '1d'),
 * `immutable`, and `cacheControl: false` to send none. Pure.
 *
 *   { maxAge: '1d', immutable: true }  →  Cache-Control: public, max-age=86400, immutable
 *   {}                                 →  Cache-Control: public, max-age=0
 *   { cacheControl: false }            →  (no header)
 */
import { createError } from '../../errors.js';

/** The longest max-age we send: one year, the cap send applies (RFC 9111 sets none). */
export const MAX_MAX_AGE_MS = 365 * 24 * 60 * 60 * 1000;

/** Options of `buildCacheControl` (serve-static's names and meanings). */
export interface CacheControlOptions {
  /** false: send no Cache-Control at all (default true). */
  cacheControl?: boolean;
  /** Freshness lifetime in milliseconds, or a duration string ('1d', '2h', '30m', '10s', '500ms', '1y'). Default 0. */
  maxAge?: number | string;
  /** Add the `immutable` directive (RFC 8246). Default false. */
  immutable?: boolean;
}

const MS_PER_UNIT: Readonly<Record<string, number>> = (() => {
  const second = 1000;
  const minute = 60 * second;
  const hour = 60 * minute;
  const day = 24 * hour;
  const table: Record<string, number> = {};
  const units: Array<[names: string[], ms: number]> = [
    [['ms', 'msec', 'msecs', 'millisecond', 'milliseconds'], 1],
    [['s', 'sec', 'secs', 'second', 'seconds'], second],
    [['m', 'min', 'mins', 'minute', 'minutes'], minute],
    [['h', 'hr', 'hrs', 'hour', 'hours'], hour],
    [['d', 'day', 'days'], day],
    [['w', 'week', 'weeks'], 7 * day],
    // A Julian year, as the `ms` package that serve-static uses counts it.
    [['y', 'yr', 'yrs', 'year', 'years'], 365.25 * day],
  ];
  for (const [names, ms] of units) for (const name of names) table[name] = ms;
  return table;
})();

const DURATION = /^(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)) *([a-z]*)$/i;

/**
 * Parses an ms-style duration into milliseconds: a decimal number, optional
 * spaces, and an optional unit (ms, s, m, h, d, w, y and their long forms,
 * case-insensitive); no unit means milliseconds. `'1d'` → 86400000,
 * `'1.5h'` → 5400000, `'500'` → 500. Returns undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
  if (text.length > 100) return undefined;
  const match = DURATION.exec(text.trim());
  if (match === null) return undefined;
  const unit = match[2]!.toLowerCase();
  const factor = unit === '' ? 1 : MS_PER_UNIT[unit];
  if (factor === undefined) return undefined;
  return Number(match[1]) * factor;
}

/**
 * Builds the Cache-Control value, or undefined when `cacheControl` is false:
 * `public, max-age=<seconds>` with `, immutable` when asked, as serve-static
 * sends it. `maxAge` is clamped to [0, MAX_MAX_AGE_MS] and floored to whole
 * seconds, as send does: `Infinity` → one year, negative →
 * 0. Throws ZC_ERR_INVALID_ARG for NaN or a string that is not a duration
 * (send silently turns such a typo into max-age=0; we say so at
 * configuration time instead).
 */
export function buildCacheControl(options: CacheControlOptions = {}): string | undefined {
  if (options.cacheControl === false) return undefined;
  const maxAge = options.maxAge ?? 0;
  const ms = typeof maxAge === 'string' ? parseDuration(maxAge) : maxAge;
  // ±Infinity clamps like any other number (send turns Infinity into a year).
  if (typeof ms !== 'number' || Number.isNaN(ms)) {
    throw createError('ZC_ERR_INVALID_ARG', ['options.maxAge', 'milliseconds or a duration string such as "1d"', maxAge]);
  }
  const seconds = Math.floor(Math.min(Math.max(0, ms), MAX_MAX_AGE_MS) / 1000);
  return `public, max-age=${seconds}${options.immutable ? ', immutable' : ''}`;
}
