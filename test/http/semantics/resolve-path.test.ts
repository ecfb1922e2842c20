import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  formatRedirectLocation,
  hasDotSegment,
  resolveSafePath,
  type UnsafePathReason,
} from '../../../src/http/semantics/resolve-path.js';

type Accepted = { segments: string[]; query?: string; trailing?: boolean };
type Refused = [status: 400 | 403 | 404, reason: UnsafePathReason];

function accepts(target: string, expected: Accepted): void {
  it(`accepts ${JSON.stringify(target)} as ${JSON.stringify(expected.segments)}`, () => {
    const result = resolveSafePath(target);
    assert.deepEqual(result, {
      kind: 'ok',
      segments: expected.segments,
      relativePath: expected.segments.join('/'),
      query: expected.query ?? '',
      hasTrailingSlash: expected.trailing ?? false,
    });
  });
}

function refuses(target: string, [status, reason]: Refused): void {
  it(`answers ${JSON.stringify(target)} with ${status} (${reason})`, () => {
    assert.deepEqual(resolveSafePath(target), { kind: 'error', status, reason });
  });
}

describe('Root jail (request-target to safe path)', () => {
  describe('when the target is an ordinary path', () => {
    accepts('/', { segments: [], trailing: true });
    accepts('/index.html', { segments: ['index.html'] });
    accepts('/a/b/c.txt', { segments: ['a', 'b', 'c.txt'] });
    accepts('/dir', { segments: ['dir'] });
    accepts('/dir/', { segments: ['dir'], trailing: true });
    accepts('/a%20b.txt', { segments: ['a b.txt'] });
    accepts('/caf%C3%A9/%E2%82%AC.txt', { segments: ['café', '€.txt'] });
    accepts('/%F0%9F%98%80', { segments: ['😀'] });
    accepts('/%EF%BB%BFbom', { segments: ['\uFEFFbom'] });
    accepts('/100%25.txt', { segments: ['100%.txt'] });
    accepts('/a+b', { segments: ['a+b'] });
    accepts("/x!$&'()*+,;=:@~-_.y", { segments: ["x!$&'()*+,;=:@~-_.y"] });
    accepts('/...', { segments: ['...'] });
    accepts('/..foo/foo..', { segments: ['..foo', 'foo..'] });
    accepts('/%2E%2E%2E', { segments: ['...'] });
    accepts('/a|b{c}^`"<>', { segments: ['a|b{c}^`"<>'] });
  });

  describe('when the target has a query string', () => {
    accepts('/dir?x=1&y=%20', { segments: ['dir'], query: 'x=1&y=%20' });
    accepts('/dir/?a', { segments: ['dir'], query: 'a', trailing: true });
    accepts('/?', { segments: [], trailing: true });
    accepts('/f?a?b', { segments: ['f'], query: 'a?b' });
    accepts('/f?../../etc/passwd', { segments: ['f'], query: '../../etc/passwd' });
    accepts('/f?a\\b', { segments: ['f'], query: 'a\\b' });
    accepts('/f?%zz', { segments: ['f'], query: '%zz' });
  });

  describe('when the path needs safe normalization', () => {
    accepts('//a//b///', { segments: ['a', 'b'], trailing: true });
    accepts('//etc/passwd', { segments: ['etc', 'passwd'] });
    accepts('/./a/./b', { segments: ['a', 'b'] });
    accepts('/a/.', { segments: ['a'], trailing: true });
    accepts('/a/%2e', { segments: ['a'], trailing: true });
    accepts('/%2e/a', { segments: ['a'] });
  });

  describe('when a raw .. stays inside the root (RFC 3986 §5.2.4 remove_dot_segments)', () => {
    accepts('/a/../b', { segments: ['b'] });
    accepts('/subdir/../4k.bin', { segments: ['4k.bin'] });
    accepts('/users/../todo.txt', { segments: ['todo.txt'] });
    accepts('/a/b/../../c', { segments: ['c'] });
    accepts('/a/b/../c/./d', { segments: ['a', 'c', 'd'] });
    accepts('/a/..', { segments: [], trailing: true });
    accepts('/a/b/..', { segments: ['a'], trailing: true });
    accepts('/a/b/../', { segments: ['a'], trailing: true });
    accepts('/a/../b?x=../..', { segments: ['b'], query: 'x=../..' });
    accepts('/.git/../index.html', { segments: ['index.html'] });
    accepts('http://example.com/a/../b', { segments: ['b'] });
  });

  describe('when a raw .. climbs above the root', () => {
    refuses('/..', [403, 'above-root']);
    refuses('/../etc/passwd', [403, 'above-root']);
    refuses('/a/../../etc/passwd', [403, 'above-root']);
    refuses('/users/../../todo.txt', [403, 'above-root']);
    refuses('/a/b/../../..', [403, 'above-root']);
    refuses('/a/../b/../../c', [403, 'above-root']);
    refuses('http://example.com/../etc/passwd', [403, 'above-root']);
  });

  describe('when .. is percent-encoded (refused even inside the root)', () => {
    refuses('/%2e%2e/etc/passwd', [403, 'encoded-dot-dot']);
    refuses('/%2E%2E/etc/passwd', [403, 'encoded-dot-dot']);
    refuses('/.%2e/etc/passwd', [403, 'encoded-dot-dot']);
    refuses('/%2e./etc/passwd', [403, 'encoded-dot-dot']);
    refuses('/a/%2e%2e', [403, 'encoded-dot-dot']);
    refuses('/a/%2e%2e?x', [403, 'encoded-dot-dot']);
    refuses('/users/%2e%2e/todo.txt', [403, 'encoded-dot-dot']);
    refuses('/users/%2e%2e/%2e%2e/todo.txt', [403, 'encoded-dot-dot']);
    refuses('http://example.com/%2e%2e/etc/passwd', [403, 'encoded-dot-dot']);
  });

  describe('when the target carries a fragment', () => {
    accepts('/4k.bin?x=1#frag', { segments: ['4k.bin'], query: 'x=1' });
    accepts('/a#b', { segments: ['a'] });
    accepts('/dir/#top', { segments: ['dir'], trailing: true });
    accepts('/a#../../etc/passwd', { segments: ['a'] });
    accepts('/a#b#c?d', { segments: ['a'] });
    refuses('#frag', [400, 'empty']);
    refuses('/../a#x', [403, 'above-root']);
  });

  describe('when .. is double-encoded', () => {
    accepts('/%252e%252e/etc/passwd', { segments: ['%2e%2e', 'etc', 'passwd'] });
    accepts('/%252e%252e%252fetc', { segments: ['%2e%2e%2fetc'] });
    accepts('/%25%32%65%25%32%65', { segments: ['%2e%2e'] });
  });

  describe('when a separator is percent-encoded', () => {
    refuses('/a%2fb', [404, 'encoded-slash']);
    refuses('/a%2Fb', [404, 'encoded-slash']);
    refuses('/%2f%2fevil.com', [404, 'encoded-slash']);
    refuses('/..%2fetc%2fpasswd', [404, 'encoded-slash']);
    refuses('/%2e%2e%2f%2e%2e%2fetc%2fpasswd', [404, 'encoded-slash']);
    refuses('/a%5cb', [404, 'encoded-backslash']);
    refuses('/%2e%2e%5c%2e%2e%5cwindows', [404, 'encoded-backslash']);
    refuses('/..%5c', [404, 'encoded-backslash']);
  });

  describe('when the path has a raw backslash', () => {
    refuses('/a\\b', [400, 'backslash']);
    refuses('/..\\..\\etc\\passwd', [400, 'backslash']);
    refuses('/\\evil.com', [400, 'backslash']);
  });

  describe('when an escape is malformed', () => {
    refuses('/%', [400, 'malformed-escape']);
    refuses('/a%', [400, 'malformed-escape']);
    refuses('/a%2', [400, 'malformed-escape']);
    refuses('/%zz', [400, 'malformed-escape']);
    refuses('/%2g', [400, 'malformed-escape']);
    refuses('/%%32%65', [400, 'malformed-escape']);
    refuses('/%u002e%u002e', [400, 'malformed-escape']);
  });

  describe('when the decoded bytes are not valid UTF-8', () => {
    refuses('/%c0%ae%c0%ae/etc/passwd', [400, 'invalid-utf8']);
    refuses('/%c0%af', [400, 'invalid-utf8']);
    refuses('/%e0%80%ae', [400, 'invalid-utf8']);
    refuses('/%f0%80%80%ae', [400, 'invalid-utf8']);
    refuses('/%c1%9c', [400, 'invalid-utf8']);
    refuses('/%ff', [400, 'invalid-utf8']);
    refuses('/%c3', [400, 'invalid-utf8']);
    refuses('/%ed%a0%80', [400, 'invalid-utf8']);
    refuses('/%f4%90%80%80', [400, 'invalid-utf8']);
  });

  describe('when the path contains NUL or control characters', () => {
    refuses('/a%00.txt', [400, 'nul']);
    refuses('/index.html%00.png', [400, 'nul']);
    refuses('/%00', [400, 'nul']);
    refuses('/a%0ab', [400, 'control-character']);
    refuses('/a%0d%0aSet-Cookie:x', [400, 'control-character']);
    refuses('/a%09b', [400, 'control-character']);
    refuses('/a%7fb', [400, 'control-character']);
    refuses('/a\0b', [400, 'invalid-character']);
    refuses('/a b', [400, 'invalid-character']);
    refuses('/a\tb', [400, 'invalid-character']);
    refuses('/a\x7fb', [400, 'invalid-character']);
    refuses('/caf\u00e9', [400, 'invalid-character']);
    refuses('/\u2025', [400, 'invalid-character']);
  });

  describe('when the target is not in origin-form', () => {
    refuses('', [400, 'empty']);
    refuses('*', [400, 'asterisk-form']);
    refuses('example.com:443', [400, 'not-origin-form']);
    refuses('index.html', [400, 'not-origin-form']);
    refuses('../etc/passwd', [400, 'not-origin-form']);
    refuses('C:\\windows', [400, 'not-origin-form']);
    refuses('file:///etc/passwd', [400, 'unsupported-scheme']);
    refuses('ftp://host/file', [400, 'unsupported-scheme']);
    refuses('javascript://x', [400, 'unsupported-scheme']);
  });

  describe('when the target is in absolute-form', () => {
    accepts('http://example.com/a/b.txt', { segments: ['a', 'b.txt'] });
    accepts('HTTPS://example.com:8443/a/?q=1', { segments: ['a'], query: 'q=1', trailing: true });
    accepts('http://example.com', { segments: [], trailing: true });
    accepts('http://example.com?x', { segments: [], query: 'x', trailing: true });
    accepts('http://user@example.com//etc/passwd', { segments: ['etc', 'passwd'] });
    refuses('http://example.com/a%2fb', [404, 'encoded-slash']);
    refuses('http://example.com/a\\b', [400, 'backslash']);
  });

  describe('every accepted path stays inside the root', () => {
    const targets = ['/', '/a', '//a', '/./a', '/a/.', '/%252e%252e', '/...', 'http://h//x', '/a//b/', '/%2e', '/a/../b', '/a/b/..', '/x#/../..'];
    for (const target of targets) {
      it(`${JSON.stringify(target)} yields a relative path without .., \\, NUL or a leading /`, () => {
        const result = resolveSafePath(target);
        assert.equal(result.kind, 'ok');
        if (result.kind !== 'ok') return;
        assert.ok(!result.relativePath.startsWith('/'));
        assert.ok(!result.relativePath.includes('\\'));
        assert.ok(!result.relativePath.includes('\0'));
        for (const segment of result.segments) {
          assert.notEqual(segment, '');
          assert.notEqual(segment, '.');
          assert.notEqual(segment, '..');
          assert.ok(!segment.includes('/'));
        }
      });
    }
  });
});

describe('hasDotSegment', () => {
  const cases: Array<[segments: string[], expected: boolean]> = [
    [[], false],
    [['index.html'], false],
    [['a.b', 'c.d'], false],
    [['.env'], true],
    [['.git', 'config'], true],
    [['a', '.hidden', 'b.txt'], true],
    [['a', 'b', '.htaccess'], true],
    [['...'], true],
    [['%2e%2e'], false],
  ];
  for (const [segments, expected] of cases) {
    it(`${expected ? 'flags' : 'passes'} ${JSON.stringify(segments)}`, () => {
      assert.equal(hasDotSegment(segments), expected);
    });
  }
  it('flags what resolveSafePath decoded from %2e', () => {
    const result = resolveSafePath('/%2eenv');
    assert.ok(result.kind === 'ok' && hasDotSegment(result.segments));
  });
});

describe('Redirect Location', () => {
  const cases: Array<[name: string, segments: string[], query: string, expected: string]> = [
    ['a directory', ['dir'], '', '/dir/'],
    ['a nested directory keeping the query', ['a', 'b'], 'x=1&y=2', '/a/b/?x=1&y=2'],
    ['the root', [], '', '/'],
    ['a name with spaces and unicode', ['a b', 'café'], '', '/a%20b/caf%C3%A9/'],
    ['a name with % and ?', ['100%', 'q?'], '', '/100%25/q%3F/'],
    ['a name that looks like a host', ['evil.com'], '', '/evil.com/'],
    ['a name with a backslash', ['\\evil.com'], '', '/%5Cevil.com/'],
    ['a query with a raw space and a bad escape', ['d'], 'a b&c=%zz&d=%41', '/d/?a%20b&c=%25zz&d=%41'],
  ];
  for (const [name, segments, query, expected] of cases) {
    it(`for ${name} is ${expected}`, () => {
      assert.equal(formatRedirectLocation(segments, query), expected);
    });
  }
  it('omits the trailing slash when asked', () => {
    assert.equal(formatRedirectLocation(['a', 'index.html'], '', false), '/a/index.html');
  });
  describe('when the request path starts with several slashes (open redirect)', () => {
    for (const target of ['//evil.com', '///evil.com', '//evil.com/%2e', 'http://h//evil.com']) {
      it(`never produces a protocol-relative Location for ${JSON.stringify(target)}`, () => {
        const result = resolveSafePath(target);
        assert.equal(result.kind, 'ok');
        if (result.kind !== 'ok') return;
        const location = formatRedirectLocation(result.segments, result.query);
        assert.equal(location, '/evil.com/');
        assert.ok(!location.startsWith('//'));
      });
    }
  });
});
