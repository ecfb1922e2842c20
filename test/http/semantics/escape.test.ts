import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { encodePathSegments, encodeUrl, escapeHtml } from '../../../src/http/semantics/escape.js';

describe('encodePathSegments', () => {
  const cases: Array<[segments: string[], expected: string]> = [
    [[], ''],
    [['a', 'b.txt'], 'a/b.txt'],
    [['a b'], 'a%20b'],
    [['café'], 'caf%C3%A9'],
    [['😀'], '%F0%9F%98%80'],
    [['100%'], '100%25'],
    [['%2e%2e'], '%252e%252e'],
    [['a/b'], 'a%2Fb'],
    [['a\\b'], 'a%5Cb'],
    [['q?#'], 'q%3F%23'],
    [['javascript:alert(1)'], 'javascript%3Aalert(1)'],
    [['"<x>&\''], "%22%3Cx%3E%26'"],
    [['lone\uD800'], 'lone%EF%BF%BD'],
  ];
  for (const [segments, expected] of cases) {
    it(`encodes ${JSON.stringify(segments)} as ${JSON.stringify(expected)}`, () => {
      assert.equal(encodePathSegments(segments), expected);
    });
  }
  it('round-trips through decodeURIComponent per segment', () => {
    const segments = ['a b', '100%', 'é', '?#', 'x/y'];
    const encoded = encodePathSegments(segments);
    assert.deepEqual(encoded.split('/').map(decodeURIComponent), segments);
  });
});

describe('encodeUrl', () => {
  const cases: Array<[input: string, expected: string]> = [
    ['/plain/path?x=1#frag', '/plain/path?x=1#frag'],
    ['/a b', '/a%20b'],
    ['/%41%42', '/%41%42'],
    ['/%zz', '/%25zz'],
    ['/100%', '/100%25'],
    ['/%4', '/%254'],
    ['/café', '/caf%C3%A9'],
    ['/😀', '/%F0%9F%98%80'],
    ['/a"<>\\^`{|}', '/a%22%3C%3E%5C%5E%60%7B%7C%7D'],
    ["/!$&'()*+,;=:@[]~", "/!$&'()*+,;=:@[]~"],
    ['/\r\nSet-Cookie: x', '/%0D%0ASet-Cookie:%20x'],
    ['/lone\uDC00', '/lone%EF%BF%BD'],
  ];
  for (const [input, expected] of cases) {
    it(`encodes ${JSON.stringify(input)} as ${JSON.stringify(expected)}`, () => {
      assert.equal(encodeUrl(input), expected);
    });
  }
  it('is idempotent', () => {
    const once = encodeUrl('/a b/%zz/é');
    assert.equal(encodeUrl(once), once);
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
  it('leaves other text alone', () => {
    assert.equal(escapeHtml('café / 100% ok'), 'café / 100% ok');
  });
});
