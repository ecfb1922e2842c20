/**
 * Conditional requests (RFC 9110 §13): the preconditions If-Match,
 * If-Unmodified-Since, If-None-Match and If-Modified-Since, and If-Range.
 * Pure: request header values and the representation's validators in, a
 * decision out.
 *
 * Validators are the ETag we send (as produced by `etag.ts`) and the
 * modification time in milliseconds. HTTP dates have one-second resolution,
 * so every date comparison floors the modification time to whole seconds,
 * exactly what `Last-Modified` shows the client (Go truncates the same way).
 */
import { parseHttpDate } from './http-date.js';

/** The validators of the selected representation. */
export interface Validators {
  /** The ETag field value we send (`"…"` or `W/"…"`), or undefined when we send none. */
  etag?: string | undefined;
  /** Modification time in milliseconds since the epoch, or undefined when unknown. */
  lastModified?: number | undefined;
}

/**
 * Request headers as Node's `IncomingMessage.headers` gives them: lower-case
 * names, a string per field (an array only for fields Node does not join).
 */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * `'ok'`: carry on with the request (then Range / If-Range);
 * `304`: Not Modified, send `notModified(rep)` without a body;
 * `412`: Precondition Failed.
 */
export type PreconditionResult = 'ok' | 304 | 412;

/**
 * Evaluates the preconditions of a request in the order of RFC 9110 §13.2.2
 * (the order Go's checkPreconditions follows):
 *
 *  1. If-Match present: false → 412. `*` is true (the representation exists);
 *     otherwise true only when an entity-tag matches ours by STRONG
 *     comparison (§8.8.3.2), so a weak ETag never satisfies If-Match.
 *  2. No If-Match, If-Unmodified-Since present and a valid date: true when
 *     the modification time is at or before the date; false → 412.
 *  3. If-None-Match present: false when `*` or an entity-tag matches ours by
 *     WEAK comparison; false → 304 for GET and HEAD, 412 for other methods.
 *  4. No If-None-Match, method GET or HEAD, If-Modified-Since present and a
 *     valid date: false (not modified) when the modification time is at or
 *     before the date → 304.
 *
 * A field that is not a valid date is ignored (RFC 9110 §13.1.3/§13.1.4), and
 * so is a date field received more than once. An entity-tag list is read up
 * to its first malformed member; the members before it still count, so a
 * garbage If-Match fails (412) and a garbage If-None-Match matches nothing
 * (Go behaves the same); an empty list field counts as absent. Date
 * conditions are skipped when `lastModified` is unknown; entity-tag
 * conditions other than `*` are false when `etag` is.
 * `method` is the request method, case-sensitive (RFC 9110 §9.1).
 */
export function evaluatePreconditions(headers: RequestHeaders, validators: Validators, method: string): PreconditionResult {
  const ifMatch = readListField(headers['if-match']);
  if (ifMatch !== undefined) {
    if (!matchesEntityTagList(ifMatch, validators.etag, 'strong')) return 412;
  } else {
    const since = readDateField(headers['if-unmodified-since']);
    if (since !== undefined && validators.lastModified !== undefined && toSeconds(validators.lastModified) > since) {
      return 412;
    }
  }

  const isGetOrHead = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = readListField(headers['if-none-match']);
  if (ifNoneMatch !== undefined) {
    if (matchesEntityTagList(ifNoneMatch, validators.etag, 'weak')) return isGetOrHead ? 304 : 412;
  } else if (isGetOrHead) {
    const since = readDateField(headers['if-modified-since']);
    if (since !== undefined && validators.lastModified !== undefined && toSeconds(validators.lastModified) <= since) {
      return 304;
    }
  }
  return 'ok';
}

/**
 * Evaluates If-Range (RFC 9110 §13.1.5) and reports whether the Range header
 * may be honoured. `undefined` (no If-Range) → true. Otherwise:
 *  - an entity-tag: true only when it is strong and equals our ETag, which
 *    must be strong too (a weak tag, ours or theirs, → false);
 *  - an HTTP-date: true only when it equals `lastModified` floored to the
 *    second, exactly (not "at or after": the client must hold these bytes);
 *  - anything else, including an empty value or a malformed tag → false, so
 *    the whole representation is sent (the safe answer: RFC 9110 §13.1.5
 *    says to ignore Range when the validator does not match).
 * The caller only consults this when a Range header is present (If-Range
 * without Range must be ignored) and the method is GET.
 */
export function evaluateIfRange(ifRange: string | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = trimOws(ifRange);
  if (value.startsWith('"') || value.startsWith('W/')) {
    const scanned = scanEntityTag(value, 0);
    if (scanned === undefined || trimOws(value.slice(scanned.next)) !== '') return false;
    return validators.etag !== undefined && matchesStrongly(scanned.tag, validators.etag);
  }
  const date = parseHttpDate(value);
  if (date === undefined || validators.lastModified === undefined) return false;
  return toSeconds(validators.lastModified) === date / 1000;
}

// ── entity-tag lists ──────────────────────────────────────────────────────
//
//   If-None-Match: "xyzzy", W/"r2d2xxxx", "c3piozzzz"
//   If-Match: *
//
// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE        (RFC 9110 §8.8.3)
// etagc      = %x21 / %x23-7E / obs-text

type Comparison = 'strong' | 'weak';

// True when the list is `*`, or one of its members matches `etag`.
function matchesEntityTagList(list: string, etag: string | undefined, comparison: Comparison): boolean {
  const value = trimOws(list);
  if (value === '*') return true;
  if (etag === undefined) return false;
  let at = 0;
  for (;;) {
    while (at < value.length && (value[at] === ',' || value[at] === ' ' || value[at] === '\t')) at++;
    if (at >= value.length) return false;
    const scanned = scanEntityTag(value, at);
    if (scanned === undefined) return false; // malformed member: stop reading the list
    if (comparison === 'strong' ? matchesStrongly(scanned.tag, etag) : matchesWeakly(scanned.tag, etag)) return true;
    at = scanned.next;
  }
}

// Reads one entity-tag starting at `at`; returns it and the index after it.
function scanEntityTag(text: string, at: number): { tag: string; next: number } | undefined {
  let quote = at;
  if (text.startsWith('W/', at)) quote += 2;
  if (text[quote] !== '"') return undefined;
  for (let i = quote + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return { tag: text.slice(at, i + 1), next: i + 1 };
    if (!(code === 0x21 || (code >= 0x23 && code <= 0x7e) || (code >= 0x80 && code <= 0xff))) return undefined;
  }
  return undefined;
}

// RFC 9110 §8.8.3.2: strong comparison needs both tags strong and identical.
function matchesStrongly(a: string, b: string): boolean {
  return a === b && a.startsWith('"');
}

// Weak comparison: identical opaque-tags, either or both may be weak.
function matchesWeakly(a: string, b: string): boolean {
  return stripWeakPrefix(a) === stripWeakPrefix(b);
}

function stripWeakPrefix(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

// ── field access ──────────────────────────────────────────────────────────

// A list field: repeated fields are one comma-separated list (RFC 9110 §5.3).
// An empty field is treated as absent, as Go does.
function readListField(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value.join(', ') : value;
  return trimOws(list) === '' ? undefined : list;
}

// A date field, in whole seconds since the epoch; undefined when absent,
// invalid, or present more than once (RFC 9110 §13.1.3: ignore it).
function readDateField(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length !== 1) return undefined;
    value = value[0]!;
  }
  const ms = parseHttpDate(value);
  return ms === undefined ? undefined : ms / 1000;
}

function toSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function trimOws(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}
