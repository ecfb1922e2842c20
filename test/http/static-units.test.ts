/**
 * Tables for the small pure pieces of the static server: Accept-Encoding
 * negotiation, access-log formatting, option normalization, header case.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { negotiateEncoding, type PrecompressedEncoding } from '../../src/http/semantics/accept-encoding.js';
import { formatClfTime, formatCommonLogLine, type AccessLogEntry } from '../../src/http/faces/access-log.js';
import { canonicalHeaderName } from '../../src/http/semantics/header-case.js';
import { normalizeOptions } from '../../src/http/pipeline/static-options.js';

describe('negotiateEncoding', () => {
  const both: PrecompressedEncoding[] = ['br', 'gzip'];
  const table: [header: string | undefined, available: PrecompressedEncoding[], expected: PrecompressedEncoding | undefined][] = [
    [undefined, both, undefined],
    ['', both, undefined],
    ['gzip, deflate, br', both, 'br'],
    ['gzip', both, 'gzip'],
    ['br', ['gzip'], undefined],
    ['br;q=0, gzip', both, 'gzip'],
    ['gzip;q=0.5, br;q=0.4', both, 'gzip'],
    ['gzip;q=1.0, br;q=1', both, 'br'],
    ['*', both, 'br'],
    ['*;q=0.5, br;q=0', both, 'gzip'],
    ['identity', both, undefined],
    ['x-gzip', both, 'gzip'],
    ['GZIP', both, 'gzip'],
    ['gzip;q=abc', both, undefined],
    ['gzip;q=1.5', both, undefined],
    ['gzip ; q=0.001', both, 'gzip'],
    [',,, br ,', both, 'br'],
  ];
  for (const [header, available, expected] of table) {
    it(`${JSON.stringify(header)} with ${available.join('+')} → ${expected ?? 'identity'}`, () => {
      assert.equal(negotiateEncoding(header, available), expected);
    });
  }
  it('joins a repeated field', () => {
    assert.equal(negotiateEncoding(['gzip;q=0.1', 'br'], ['br', 'gzip']), 'br');
  });
});

describe('access log format', () => {
  const entry: AccessLogEntry = {
    remoteAddress: '::1', time: Date.UTC(2026, 10, 25, 21, 37, 56), method: 'GET', url: '/a b"c\n', httpVersion: '1.1',
    status: 206, bytes: 0, bodyMethod: 'sendfile', durationMs: 1, completed: true,
  };
  it('formats CLF time as [dd/Mon/yyyy:HH:MM:SS ±hhmm] in local time', () => {
    assert.match(formatClfTime(entry.time), /^\[\d{2}\/Nov\/2026:\d{2}:\d{2}:56 [+-]\d{4}\]$/);
  });
  it("escapes quotes and control characters in the request line, prints '-' for no bytes", () => {
    const line = formatCommonLogLine(entry);
    assert.ok(line.startsWith('::1 - - ['));
    assert.ok(line.endsWith('"GET /a b\\x22c\\x0a HTTP/1.1" 206 - sendfile'), line);
    assert.ok(!line.includes('\n'));
  });
  it('marks an incomplete response', () => {
    assert.ok(formatCommonLogLine({ ...entry, bytes: 5, completed: false }).endsWith(' 206 5 sendfile(aborted)'));
  });
});

describe('normalizeOptions', () => {
  it('applies serve-static defaults', () => {
    const o = normalizeOptions();
    assert.deepEqual(
      [o.index, o.dotfiles, o.etag, o.lastModified, o.cacheControl, o.redirect, o.fallthrough, o.acceptRanges, o.followSymlinks, o.precompressed, o.headerMode, o.method],
      [['index.html'], 'ignore', 'strong', true, 'public, max-age=0', true, true, true, false, [], 'prefix', 'auto'],
    );
  });
  it('accepts index as a string or false, extensions with or without a dot', () => {
    assert.deepEqual(normalizeOptions({ index: 'home.htm' }).index, ['home.htm']);
    assert.deepEqual(normalizeOptions({ index: false }).index, []);
    assert.deepEqual(normalizeOptions({ extensions: ['.html', 'htm'] }).extensions, ['html', 'htm']);
  });
  it('maps etag: true to strong and keeps weak', () => {
    assert.equal(normalizeOptions({ etag: true }).etag, 'strong');
    assert.equal(normalizeOptions({ etag: 'weak' }).etag, 'weak');
    assert.equal(normalizeOptions({ etag: false }).etag, false);
  });
  const bad: [string, object][] = [
    ['dotfiles', { dotfiles: 'hide' }],
    ['etag', { etag: 'medium' }],
    ['maxAge', { maxAge: 'soon' }],
    ['index with a slash', { index: '../x' }],
    ['maxRanges', { maxRanges: -1 }],
    ['precompressed', { precompressed: ['zstd'] }],
    ['setHeaders', { setHeaders: 'x' }],
    ['headerMode', { headerMode: 'native' }],
    ['redirect', { redirect: 'yes' }],
  ];
  for (const [name, options] of bad) {
    it(`rejects a bad ${name} with ZC_ERR_INVALID_ARG (a TypeError)`, () => {
      assert.throws(() => normalizeOptions(options as never), (error: any) => error.code === 'ZC_ERR_INVALID_ARG' && error instanceof TypeError);
    });
  }
});

describe('canonicalHeaderName', () => {
  const table: [string, string][] = [
    ['content-type', 'Content-Type'], ['etag', 'ETag'], ['content-security-policy', 'Content-Security-Policy'],
    ['x-content-type-options', 'X-Content-Type-Options'], ['accept-ranges', 'Accept-Ranges'], ['Vary', 'Vary'],
  ];
  for (const [input, expected] of table) it(`${input} → ${expected}`, () => assert.equal(canonicalHeaderName(input), expected));
});
