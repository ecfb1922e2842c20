import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { normalizeOptions } from '../../../src/http/pipeline/static-options.js';

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
