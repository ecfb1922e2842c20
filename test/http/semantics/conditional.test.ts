import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  evaluateIfRange,
  evaluatePreconditions,
  type PreconditionResult,
  type RequestHeaders,
  type Validators,
} from '../../../src/http/semantics/conditional.js';

const ETAG = '"2ebc4a61-1c"';
const WEAK_ETAG = 'W/"1c-2ebc4a61a3c"';
// 06 Nov 1994 08:49:37.500: Last-Modified shows 08:49:37.
const LAST_MODIFIED_MS = 784111777500;
const AT = 'Sun, 06 Nov 1994 08:49:37 GMT';
const BEFORE = 'Sun, 06 Nov 1994 08:49:36 GMT';
const AFTER = 'Sun, 06 Nov 1994 08:49:38 GMT';
const STRONG: Validators = { etag: ETAG, lastModified: LAST_MODIFIED_MS };
const WEAK: Validators = { etag: WEAK_ETAG, lastModified: LAST_MODIFIED_MS };

interface Case {
  name: string;
  headers: RequestHeaders;
  expected: PreconditionResult;
  validators?: Validators;
  method?: string;
}

function runTable(cases: Case[]): void {
  for (const c of cases) {
    const method = c.method ?? 'GET';
    it(`${c.name} → ${c.expected}`, () => {
      assert.equal(evaluatePreconditions(c.headers, c.validators ?? STRONG, method), c.expected);
    });
  }
}

describe('Preconditions', () => {
  describe('when the request has none', () => {
    runTable([
      { name: 'GET proceeds', headers: {}, expected: 'ok' },
      { name: 'POST proceeds', headers: {}, method: 'POST', expected: 'ok' },
      { name: 'unrelated headers are ignored', headers: { range: 'bytes=0-1', 'if-range': ETAG }, expected: 'ok' },
    ]);
  });

  describe('If-Match (strong comparison)', () => {
    runTable([
      { name: 'the same strong tag proceeds', headers: { 'if-match': ETAG }, expected: 'ok' },
      { name: '* proceeds', headers: { 'if-match': '*' }, expected: 'ok' },
      { name: '* proceeds even without an ETag', headers: { 'if-match': '*' }, validators: { lastModified: 0 }, expected: 'ok' },
      { name: 'a list with whitespace containing the tag proceeds', headers: { 'if-match': ` "a" ,\t${ETAG} , "b"` }, expected: 'ok' },
      { name: 'a list without commas spacing proceeds', headers: { 'if-match': `"a",${ETAG}` }, expected: 'ok' },
      { name: 'repeated fields form one list', headers: { 'if-match': ['"a"', ETAG] }, expected: 'ok' },
      { name: 'another tag fails', headers: { 'if-match': '"other"' }, expected: 412 },
      { name: 'a list of other tags fails', headers: { 'if-match': '"a", "b"' }, expected: 412 },
      { name: 'the weak form of our strong tag fails', headers: { 'if-match': `W/${ETAG}` }, expected: 412 },
      { name: 'our own weak tag never matches strongly', headers: { 'if-match': WEAK_ETAG }, validators: WEAK, expected: 412 },
      { name: 'a tag fails when we send no ETag', headers: { 'if-match': ETAG }, validators: { lastModified: LAST_MODIFIED_MS }, expected: 412 },
      { name: 'an unquoted tag fails', headers: { 'if-match': '2ebc4a61-1c' }, expected: 412 },
      { name: 'a match before a malformed member counts', headers: { 'if-match': `${ETAG}, junk` }, expected: 'ok' },
      { name: 'a match after a malformed member is not read', headers: { 'if-match': `junk, ${ETAG}` }, expected: 412 },
      { name: '* inside a list is malformed', headers: { 'if-match': `*, ${ETAG}` }, expected: 412 },
      { name: 'an unterminated tag fails', headers: { 'if-match': '"2ebc4a61-1c' }, expected: 412 },
      { name: 'an empty field counts as absent', headers: { 'if-match': '' }, expected: 'ok' },
      { name: 'fails for HEAD too', headers: { 'if-match': '"x"' }, method: 'HEAD', expected: 412 },
    ]);
  });

  describe('If-Unmodified-Since', () => {
    runTable([
      { name: 'the Last-Modified second proceeds', headers: { 'if-unmodified-since': AT }, expected: 'ok' },
      { name: 'a later date proceeds', headers: { 'if-unmodified-since': AFTER }, expected: 'ok' },
      { name: 'an earlier date fails', headers: { 'if-unmodified-since': BEFORE }, expected: 412 },
      { name: 'an invalid date is ignored', headers: { 'if-unmodified-since': 'yesterday' }, expected: 'ok' },
      { name: 'an earlier date is ignored without Last-Modified', headers: { 'if-unmodified-since': BEFORE }, validators: { etag: ETAG }, expected: 'ok' },
      { name: 'an obsolete asctime date works', headers: { 'if-unmodified-since': 'Sun Nov  6 08:49:36 1994' }, expected: 412 },
      { name: 'is not evaluated when If-Match is present and matches', headers: { 'if-match': ETAG, 'if-unmodified-since': BEFORE }, expected: 'ok' },
      { name: 'If-Match decides when both are present', headers: { 'if-match': '"x"', 'if-unmodified-since': AFTER }, expected: 412 },
      { name: 'two values are ignored', headers: { 'if-unmodified-since': [BEFORE, BEFORE] }, expected: 'ok' },
    ]);
  });

  describe('If-None-Match (weak comparison)', () => {
    runTable([
      { name: 'our strong tag on GET is not modified', headers: { 'if-none-match': ETAG }, expected: 304 },
      { name: 'our strong tag on HEAD is not modified', headers: { 'if-none-match': ETAG }, method: 'HEAD', expected: 304 },
      { name: 'our strong tag on POST fails', headers: { 'if-none-match': ETAG }, method: 'POST', expected: 412 },
      { name: 'our strong tag on PUT fails', headers: { 'if-none-match': ETAG }, method: 'PUT', expected: 412 },
      { name: 'the weak form of our strong tag matches', headers: { 'if-none-match': `W/${ETAG}` }, expected: 304 },
      { name: 'our weak tag matches', headers: { 'if-none-match': WEAK_ETAG }, validators: WEAK, expected: 304 },
      { name: 'the strong form of our weak tag matches', headers: { 'if-none-match': WEAK_ETAG.slice(2) }, validators: WEAK, expected: 304 },
      { name: '* on GET is not modified', headers: { 'if-none-match': '*' }, expected: 304 },
      { name: '* on DELETE fails', headers: { 'if-none-match': '*' }, method: 'DELETE', expected: 412 },
      { name: 'a list containing our tag is not modified', headers: { 'if-none-match': `"a", W/"b",${ETAG}` }, expected: 304 },
      { name: 'another tag proceeds', headers: { 'if-none-match': '"other"' }, expected: 'ok' },
      { name: 'a tag proceeds when we send no ETag', headers: { 'if-none-match': ETAG }, validators: { lastModified: LAST_MODIFIED_MS }, expected: 'ok' },
      { name: 'garbage proceeds', headers: { 'if-none-match': 'garbage' }, expected: 'ok' },
      { name: 'a tag differing in case proceeds (opaque-tags are case-sensitive)', headers: { 'if-none-match': ETAG.toUpperCase() }, expected: 'ok' },
    ]);
  });

  describe('If-Modified-Since', () => {
    runTable([
      { name: 'the Last-Modified second is not modified', headers: { 'if-modified-since': AT }, expected: 304 },
      { name: 'a later date is not modified', headers: { 'if-modified-since': AFTER }, expected: 304 },
      { name: 'an earlier date proceeds', headers: { 'if-modified-since': BEFORE }, expected: 'ok' },
      { name: 'HEAD is not modified', headers: { 'if-modified-since': AT }, method: 'HEAD', expected: 304 },
      { name: 'is ignored for POST', headers: { 'if-modified-since': AT }, method: 'POST', expected: 'ok' },
      { name: 'an invalid date is ignored', headers: { 'if-modified-since': 'not a date' }, expected: 'ok' },
      { name: 'two values are ignored', headers: { 'if-modified-since': [AT, AT] }, expected: 'ok' },
      { name: 'is ignored without Last-Modified', headers: { 'if-modified-since': AFTER }, validators: { etag: ETAG }, expected: 'ok' },
      { name: 'an rfc850 date works', headers: { 'if-modified-since': 'Sunday, 06-Nov-94 08:49:37 GMT' }, expected: 304 },
      {
        name: 'sub-second modification times compare by the second',
        headers: { 'if-modified-since': AT },
        validators: { etag: ETAG, lastModified: 784111777999 },
        expected: 304,
      },
      { name: 'is not evaluated when If-None-Match is present', headers: { 'if-none-match': '"other"', 'if-modified-since': AFTER }, expected: 'ok' },
      { name: 'If-None-Match decides when both are present', headers: { 'if-none-match': ETAG, 'if-modified-since': BEFORE }, expected: 304 },
    ]);
  });

  describe('when several preconditions are present (RFC 9110 §13.2.2 order)', () => {
    runTable([
      { name: 'If-Match failing beats If-None-Match matching', headers: { 'if-match': '"x"', 'if-none-match': ETAG }, expected: 412 },
      { name: 'If-Unmodified-Since failing beats If-None-Match matching', headers: { 'if-unmodified-since': BEFORE, 'if-none-match': ETAG }, expected: 412 },
      { name: 'If-Unmodified-Since failing beats If-Modified-Since', headers: { 'if-unmodified-since': BEFORE, 'if-modified-since': AT }, expected: 412 },
      { name: 'If-Match passing then If-None-Match matching', headers: { 'if-match': ETAG, 'if-none-match': ETAG }, expected: 304 },
      { name: 'If-Match passing then If-Modified-Since', headers: { 'if-match': '*', 'if-modified-since': AT }, expected: 304 },
      { name: 'all four passing', headers: { 'if-match': ETAG, 'if-unmodified-since': AFTER, 'if-none-match': '"x"', 'if-modified-since': BEFORE }, expected: 'ok' },
    ]);
  });
});

describe('If-Range', () => {
  const cases: Array<[name: string, value: string | undefined, validators: Validators, expected: boolean]> = [
    ['absent', undefined, STRONG, true],
    ['our strong ETag', ETAG, STRONG, true],
    ['our strong ETag with surrounding whitespace', ` ${ETAG}\t`, STRONG, true],
    ['another ETag', '"other"', STRONG, false],
    ['the weak form of our strong ETag', `W/${ETAG}`, STRONG, false],
    ['our own weak ETag', WEAK_ETAG, WEAK, false],
    ['the strong form of our weak ETag', WEAK_ETAG.slice(2), WEAK, false],
    ['an ETag when we send none', ETAG, { lastModified: LAST_MODIFIED_MS }, false],
    ['an ETag followed by junk', `${ETAG} x`, STRONG, false],
    ['a list of ETags', `${ETAG}, "b"`, STRONG, false],
    ['an unterminated ETag', '"2ebc4a61-1c', STRONG, false],
    ['the Last-Modified date', AT, STRONG, true],
    ['the Last-Modified date in asctime form', 'Sun Nov  6 08:49:37 1994', STRONG, true],
    ['a later date', AFTER, STRONG, false],
    ['an earlier date', BEFORE, STRONG, false],
    ['a date when we send no Last-Modified', AT, { etag: ETAG }, false],
    ['an invalid date', 'Sunday', STRONG, false],
    ['an empty value', '', STRONG, false],
  ];
  for (const [name, value, validators, expected] of cases) {
    it(`${expected ? 'honours' : 'ignores'} Range for ${name}`, () => {
      assert.equal(evaluateIfRange(value, validators), expected);
    });
  }
});
