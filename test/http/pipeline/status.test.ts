import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { describeStatus, mapErrorToStatus } from '../../../src/http/pipeline/status.js';

function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: secret /etc/shadow detail`), { code });
}

describe('errno to HTTP status', () => {
  const cases: Array<[code: string, refused: 403 | 404 | 500, followed: 403 | 404 | 500]> = [
    ['ENOENT', 404, 404],
    ['ENOTDIR', 404, 404],
    ['ENAMETOOLONG', 404, 404],
    ['EACCES', 403, 403],
    ['EPERM', 403, 403],
    ['ENXIO', 404, 404],
    ['ELOOP', 403, 500],
    ['EXDEV', 403, 500],
    ['EISDIR', 500, 500],
    ['EMFILE', 500, 500],
    ['EIO', 500, 500],
  ];
  for (const [code, refused, followed] of cases) {
    it(`maps ${code} to ${refused} when symlinks are refused and ${followed} when followed`, () => {
      assert.equal(mapErrorToStatus(systemError(code)), refused);
      assert.equal(mapErrorToStatus(systemError(code), { followSymlinks: false }), refused);
      assert.equal(mapErrorToStatus(systemError(code), { followSymlinks: true }), followed);
    });
  }
  for (const value of [new Error('no code'), null, undefined, 'ENOENT', 42, { code: 404 }]) {
    it(`maps ${String(value)} without a string code to 500`, () => {
      assert.equal(mapErrorToStatus(value), 500);
    });
  }
});

describe('describeStatus', () => {
  const cases: Array<[status: number, text: string]> = [
    [400, 'Bad Request'],
    [403, 'Forbidden'],
    [404, 'Not Found'],
    [405, 'Method Not Allowed'],
    [412, 'Precondition Failed'],
    [416, 'Range Not Satisfiable'],
    [500, 'Internal Server Error'],
    [599, 'Error'],
  ];
  for (const [status, text] of cases) {
    it(`gives ${status} the fixed text "${text}"`, () => {
      assert.equal(describeStatus(status), text);
    });
  }
});
