import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseRange } from '../../../src/http/semantics/range.js';
import {
  applyRange,
  createBoundary,
  createFileRepresentation,
  isFileRegion,
  measureBody,
  notModified,
  preconditionFailed,
  type BodyPart,
  type Representation,
} from '../../../src/http/pipeline/representation.js';

// A fake file: the body's regions are read from this string, as sendfile
// would read them from the fd.
const FILE = 'The quick brown fox jumps over the lazy dog';
const SIZE = Buffer.byteLength(FILE); // 43
const FD = 7;
const MTIME_MS = 784111777500;
const TYPE = 'text/plain; charset=utf-8';

function fileRep(overrides: Partial<Parameters<typeof createFileRepresentation>[0]> = {}): Representation {
  return createFileRepresentation({
    fd: FD,
    size: SIZE,
    mtimeMs: MTIME_MS,
    type: TYPE,
    etag: '"2ebc98a1-2b"',
    cacheControl: 'public, max-age=60',
    ...overrides,
  });
}

// Concatenates Buffers and file slices, checking every region points at FD.
function materialize(body: readonly BodyPart[]): Buffer {
  const file = Buffer.from(FILE);
  return Buffer.concat(
    body.map((part) => {
      if (!isFileRegion(part)) return part;
      assert.equal(part.fd, FD);
      return file.subarray(part.start, part.end);
    }),
  );
}

describe('Representation', () => {
  describe('when built for a whole file', () => {
    it('carries the 200 header set and one region covering the file', () => {
      const rep = fileRep({ vary: 'Accept-Encoding' });
      assert.equal(rep.status, 200);
      assert.deepEqual(rep.headers, {
        'content-type': TYPE,
        'content-length': '43',
        'accept-ranges': 'bytes',
        'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT',
        etag: '"2ebc98a1-2b"',
        'cache-control': 'public, max-age=60',
        vary: 'Accept-Encoding',
      });
      assert.deepEqual(rep.body, [{ fd: FD, start: 0, end: SIZE }]);
      assert.equal(materialize(rep.body).toString(), FILE);
      assert.deepEqual([rep.fd, rep.size, rep.mtime, rep.etag, rep.type], [FD, SIZE, MTIME_MS, '"2ebc98a1-2b"', TYPE]);
    });
    it('omits what is switched off or not given', () => {
      const rep = createFileRepresentation({ fd: FD, size: SIZE, mtimeMs: MTIME_MS, type: TYPE, lastModified: false, acceptRanges: false });
      assert.deepEqual(rep.headers, { 'content-type': TYPE, 'content-length': '43' });
      assert.equal(rep.etag, undefined);
    });
    it('has an empty body for an empty file', () => {
      const rep = fileRep({ size: 0 });
      assert.deepEqual(rep.body, []);
      assert.equal(rep.headers['content-length'], '0');
    });
    it('sends Content-Encoding for a precompressed sibling', () => {
      assert.equal(fileRep({ contentEncoding: 'br' }).headers['content-encoding'], 'br');
    });
  });

  describe('when the Range is ignored', () => {
    it('returns the same 200 representation', () => {
      const rep = fileRep();
      assert.equal(applyRange(rep, { kind: 'none' }), rep);
    });
    it('leaves a non-200 representation alone', () => {
      const rep = notModified(fileRep());
      assert.equal(applyRange(rep, parseRange('bytes=0-1', SIZE)), rep);
    });
  });

  describe('when one range is satisfiable', () => {
    const rep = applyRange(fileRep(), parseRange('bytes=4-8', SIZE));
    it('answers 206 with Content-Range and Content-Length of the range', () => {
      assert.equal(rep.status, 206);
      assert.equal(rep.headers['content-range'], 'bytes 4-8/43');
      assert.equal(rep.headers['content-length'], '5');
      assert.equal(rep.headers['content-type'], TYPE);
      assert.equal(rep.headers['etag'], '"2ebc98a1-2b"');
    });
    it('sends the range as one file region', () => {
      assert.deepEqual(rep.body, [{ fd: FD, start: 4, end: 9 }]);
      assert.equal(materialize(rep.body).toString(), 'quick');
    });
    it("answers Safari's bytes=0-1 probe exactly", () => {
      const probe = applyRange(fileRep(), parseRange('bytes=0-1', SIZE));
      assert.equal(probe.headers['content-range'], 'bytes 0-1/43');
      assert.equal(materialize(probe.body).toString(), 'Th');
    });
    it('keeps Content-Encoding on a single range of a precompressed sibling', () => {
      const encoded = applyRange(fileRep({ contentEncoding: 'gzip' }), parseRange('bytes=-3', SIZE));
      assert.equal(encoded.status, 206);
      assert.equal(encoded.headers['content-encoding'], 'gzip');
      assert.equal(encoded.headers['content-range'], 'bytes 40-42/43');
    });
    it('does not modify its input', () => {
      const input = fileRep();
      const before = structuredClone(input);
      applyRange(input, parseRange('bytes=0-0', SIZE));
      assert.deepEqual(input, before);
    });
  });

  describe('when several ranges are satisfiable', () => {
    const rep = applyRange(fileRep(), parseRange('bytes=0-2, -3, 10-14', SIZE), { boundary: 'BOUNDARY' });
    const expected =
      '--BOUNDARY\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      'Content-Range: bytes 0-2/43\r\n' +
      '\r\n' +
      'The' +
      '\r\n--BOUNDARY\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      'Content-Range: bytes 40-42/43\r\n' +
      '\r\n' +
      'dog' +
      '\r\n--BOUNDARY\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      'Content-Range: bytes 10-14/43\r\n' +
      '\r\n' +
      'brown' +
      '\r\n--BOUNDARY--\r\n';

    it('answers 206 multipart/byteranges with the boundary', () => {
      assert.equal(rep.status, 206);
      assert.equal(rep.headers['content-type'], 'multipart/byteranges; boundary=BOUNDARY');
      assert.equal(rep.headers['content-range'], undefined);
    });
    it('produces exactly the expected bytes, parts in request order', () => {
      assert.equal(materialize(rep.body).toString('latin1'), expected);
    });
    it('states a Content-Length equal to the bytes produced', () => {
      assert.equal(rep.headers['content-length'], String(Buffer.byteLength(expected)));
      assert.equal(Number(rep.headers['content-length']), materialize(rep.body).length);
      assert.equal(measureBody(rep.body), Buffer.byteLength(expected));
    });
    it('alternates boundary Buffers with file regions, so every part body is zero-copy', () => {
      assert.deepEqual(
        rep.body.map((part) => (isFileRegion(part) ? 'region' : 'buffer')),
        ['buffer', 'region', 'buffer', 'region', 'buffer', 'region', 'buffer'],
      );
      assert.deepEqual(rep.body.filter(isFileRegion), [
        { fd: FD, start: 0, end: 3 },
        { fd: FD, start: 40, end: 43 },
        { fd: FD, start: 10, end: 15 },
      ]);
    });
    it('keeps the validators and caching headers', () => {
      assert.equal(rep.headers['etag'], '"2ebc98a1-2b"');
      assert.equal(rep.headers['last-modified'], 'Sun, 06 Nov 1994 08:49:37 GMT');
      assert.equal(rep.headers['cache-control'], 'public, max-age=60');
    });
    it('keeps Content-Length exact for a multi-byte Content-Type and a long boundary', () => {
      const long = 'b'.repeat(70);
      const other = applyRange(fileRep({ type: 'application/x-ünïcode' }), parseRange('bytes=0-0,2-2', SIZE), { boundary: long });
      assert.equal(Number(other.headers['content-length']), materialize(other.body).length);
    });
    it('omits the part Content-Type when the representation has none', () => {
      const untyped = applyRange(fileRep({ type: '' }), parseRange('bytes=0-0,-1', SIZE), { boundary: 'b' });
      assert.equal(materialize(untyped.body).toString(), '--b\r\nContent-Range: bytes 0-0/43\r\n\r\nT\r\n--b\r\nContent-Range: bytes 42-42/43\r\n\r\ng\r\n--b--\r\n');
      assert.equal(Number(untyped.headers['content-length']), materialize(untyped.body).length);
    });
    it('uses a fresh random boundary by default', () => {
      const first = applyRange(fileRep(), parseRange('bytes=0-0,-1', SIZE));
      const second = applyRange(fileRep(), parseRange('bytes=0-0,-1', SIZE));
      assert.match(first.headers['content-type']!, /^multipart\/byteranges; boundary=[0-9a-f]{24}$/);
      assert.notEqual(first.headers['content-type'], second.headers['content-type']);
      assert.equal(Number(first.headers['content-length']), materialize(first.body).length);
      assert.match(createBoundary(), /^[0-9a-f]{24}$/);
    });
    it('declines several ranges of a precompressed sibling and stays 200', () => {
      const encoded = fileRep({ contentEncoding: 'br' });
      assert.equal(applyRange(encoded, parseRange('bytes=0-0,-1', SIZE)), encoded);
    });
    for (const boundary of ['', 'a b', 'a"b', 'a;b', 'x'.repeat(71), 'é']) {
      it(`rejects the boundary ${JSON.stringify(boundary)}`, () => {
        assert.throws(() => applyRange(fileRep(), parseRange('bytes=0-0,-1', SIZE), { boundary }), { code: 'ZC_ERR_INVALID_ARG' });
      });
    }
  });

  describe('when ranges were parsed against another size', () => {
    it('throws ZC_ERR_OUT_OF_RANGE instead of promising bytes the file lacks', () => {
      assert.throws(() => applyRange(fileRep(), parseRange('bytes=40-49', 50)), { name: 'RangeError', code: 'ZC_ERR_OUT_OF_RANGE' });
    });
  });

  describe('when no range is satisfiable', () => {
    const rep = applyRange(fileRep({ vary: 'Accept-Encoding' }), parseRange('bytes=100-', SIZE));
    it('answers 416 with Content-Range bytes */size', () => {
      assert.equal(rep.status, 416);
      assert.equal(rep.headers['content-range'], 'bytes */43');
    });
    it('sends a generated page with CSP and nosniff instead of the file', () => {
      assert.equal(rep.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(rep.headers['content-security-policy'], "default-src 'none'");
      assert.equal(rep.headers['x-content-type-options'], 'nosniff');
      assert.equal(rep.body.length, 1);
      assert.ok(!isFileRegion(rep.body[0]!));
      assert.match(materialize(rep.body).toString(), /<pre>Range Not Satisfiable<\/pre>/);
      assert.equal(Number(rep.headers['content-length']), measureBody(rep.body));
    });
    it("drops the file's validators and caching policy but keeps Accept-Ranges and Vary", () => {
      assert.equal(rep.headers['etag'], undefined);
      assert.equal(rep.headers['last-modified'], undefined);
      assert.equal(rep.headers['cache-control'], undefined);
      assert.equal(rep.headers['accept-ranges'], 'bytes');
      assert.equal(rep.headers['vary'], 'Accept-Encoding');
    });
    it('keeps the fd for its owner to close', () => {
      assert.equal(rep.fd, FD);
    });
  });

  describe('when the client has a fresh copy (304)', () => {
    const base = fileRep({ contentEncoding: 'br', vary: 'Accept-Encoding' });
    base.headers['expires'] = 'Sun, 06 Nov 1994 08:50:37 GMT';
    base.headers['access-control-allow-origin'] = '*';
    const rep = notModified(base);
    it('has no body', () => {
      assert.equal(rep.status, 304);
      assert.deepEqual(rep.body, []);
    });
    it('keeps exactly ETag, Last-Modified, Cache-Control, Expires, Vary and other headers', () => {
      assert.deepEqual(rep.headers, {
        etag: '"2ebc98a1-2b"',
        'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT',
        'cache-control': 'public, max-age=60',
        expires: 'Sun, 06 Nov 1994 08:50:37 GMT',
        vary: 'Accept-Encoding',
        'access-control-allow-origin': '*',
      });
    });
    it('keeps the fd for its owner to close', () => {
      assert.equal(rep.fd, FD);
    });
  });

  describe('when a precondition fails (412)', () => {
    const rep = preconditionFailed(fileRep());
    it('sends a generated page without the file validators', () => {
      assert.equal(rep.status, 412);
      assert.match(materialize(rep.body).toString(), /<pre>Precondition Failed<\/pre>/);
      assert.equal(rep.headers['etag'], undefined);
      assert.equal(rep.headers['content-security-policy'], "default-src 'none'");
      assert.equal(Number(rep.headers['content-length']), measureBody(rep.body));
    });
  });
});
