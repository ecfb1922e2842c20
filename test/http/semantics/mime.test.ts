import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DEFAULT_CONTENT_TYPE, lookupContentType } from '../../../src/http/semantics/mime.js';

describe('Content-Type', () => {
  const cases: Array<[fileName: string, expected: string]> = [
    ['index.html', 'text/html; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
    ['app.js', 'text/javascript; charset=utf-8'],
    ['module.mjs', 'text/javascript; charset=utf-8'],
    ['notes.txt', 'text/plain; charset=utf-8'],
    ['data.json', 'application/json; charset=utf-8'],
    ['image.png', 'image/png'],
    ['photo.JPG', 'image/jpeg'],
    ['INDEX.HTML', 'text/html; charset=utf-8'],
    ['video.mp4', 'video/mp4'],
    ['code.wasm', 'application/wasm'],
    ['archive.tar.gz', 'application/gzip'],
    ['dir/sub/page.html', 'text/html; charset=utf-8'],
    ['dir.html/file', DEFAULT_CONTENT_TYPE],
    ['file.unknownext', DEFAULT_CONTENT_TYPE],
    ['Makefile', DEFAULT_CONTENT_TYPE],
    ['html', DEFAULT_CONTENT_TYPE],
    ['.bashrc', DEFAULT_CONTENT_TYPE],
    ['.html', DEFAULT_CONTENT_TYPE],
    ['trailing.', DEFAULT_CONTENT_TYPE],
    ['', DEFAULT_CONTENT_TYPE],
  ];
  for (const [fileName, expected] of cases) {
    it(`gives ${JSON.stringify(fileName)} ${expected}`, () => {
      assert.equal(lookupContentType(fileName), expected);
    });
  }
  it('uses application/octet-stream as the default', () => {
    assert.equal(DEFAULT_CONTENT_TYPE, 'application/octet-stream');
  });
  it('uses the given fallback for unknown extensions', () => {
    assert.equal(lookupContentType('README', 'text/plain; charset=utf-8'), 'text/plain; charset=utf-8');
  });
});
