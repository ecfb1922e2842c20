import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildErrorPage, buildHtmlPage, buildListingPage, buildRedirectPage, GENERATED_PAGE_HEADERS } from '../../../src/http/pipeline/page.js';

describe('Generated pages', () => {
  describe('when building an error page', () => {
    const page = buildErrorPage(404);
    it('has the status, HTML type, exact length, CSP and nosniff', () => {
      assert.equal(page.status, 404);
      assert.deepEqual(page.headers, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(page.body.length),
        'content-security-policy': "default-src 'none'",
        'x-content-type-options': 'nosniff',
      });
    });
    it('says only the fixed reason text', () => {
      assert.equal(
        page.body.toString(),
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Not Found</pre>\n</body>\n</html>\n',
      );
      assert.equal(page.body.length, 136);
    });
    it('exports the CSP and nosniff pair', () => {
      assert.deepEqual({ ...GENERATED_PAGE_HEADERS }, { 'content-security-policy': "default-src 'none'", 'x-content-type-options': 'nosniff' });
    });
  });

  describe('when building any HTML page', () => {
    it('escapes the title and counts Content-Length in UTF-8 bytes', () => {
      const page = buildHtmlPage(200, '<é>', '<p>ü</p>');
      assert.match(page.body.toString(), /<title>&lt;é&gt;<\/title>/);
      assert.equal(page.headers['content-length'], String(Buffer.byteLength(page.body.toString())));
      assert.notEqual(page.body.length, page.body.toString().length);
    });
  });

  describe('when building a redirect', () => {
    it('sets Location as given and escapes it in the link', () => {
      const page = buildRedirectPage('/a%20b/?x=1&y="2"');
      assert.equal(page.status, 301);
      assert.equal(page.headers['location'], '/a%20b/?x=1&y="2"');
      assert.match(page.body.toString(), /<a href="\/a%20b\/\?x=1&amp;y=&quot;2&quot;">/);
      assert.equal(page.headers['content-security-policy'], "default-src 'none'");
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
    });
    it('takes another redirect status', () => {
      assert.equal(buildRedirectPage('/x', 308).status, 308);
    });
  });

  describe('when building a directory listing', () => {
    const page = buildListingPage(['docs', 'a&b'], [
      { name: 'z.txt', isDirectory: false },
      { name: 'sub', isDirectory: true },
      { name: '<script>alert(1)</script>.html', isDirectory: false },
      { name: 'javascript:alert(1)', isDirectory: false },
      { name: 'a b', isDirectory: false },
    ]);
    const html = page.body.toString();
    it('is a 200 HTML page with CSP and nosniff', () => {
      assert.equal(page.status, 200);
      assert.equal(page.headers['content-security-policy'], "default-src 'none'");
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      assert.equal(page.headers['content-length'], String(page.body.length));
    });
    it('lists the parent, then directories, then files in name order, escaped and encoded', () => {
      const items = html.split('\n').filter((line) => line.startsWith('<li>'));
      assert.deepEqual(items, [
        '<li><a href="../">../</a></li>',
        '<li><a href="sub/">sub/</a></li>',
        '<li><a href="%3Cscript%3Ealert(1)%3C%2Fscript%3E.html">&lt;script&gt;alert(1)&lt;/script&gt;.html</a></li>',
        '<li><a href="a%20b">a b</a></li>',
        '<li><a href="javascript%3Aalert(1)">javascript:alert(1)</a></li>',
        '<li><a href="z.txt">z.txt</a></li>',
      ]);
    });
    it('titles the page with the escaped directory path', () => {
      assert.match(html, /<title>Index of \/docs\/a&amp;b\/<\/title>/);
      assert.ok(!html.includes('<script>'));
    });
    it('has no parent link at the root', () => {
      assert.ok(!buildListingPage([], []).body.toString().includes('../'));
    });
  });
});
