import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';

import { errorCodes, isZeroCopyError } from '../src/index.js';
import { createError } from '../src/errors.js';

const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error codes', () => {
  for (const code of Object.keys(errorCodes)) {
    it(`${code} is documented in docs/errors.md`, () => {
      assert.match(doc, new RegExp('`' + code + '`'));
    });
  }

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), Object.keys(errorCodes).sort());
  });

  it('builds errors with the table base class, code and brand', () => {
    const error = createError('ZC_ERR_INVALID_ARG', ['length', 'an integer', 1.5]);
    assert.ok(error instanceof TypeError);
    assert.equal(error.code, 'ZC_ERR_INVALID_ARG');
    assert.equal(error.message, 'The "length" argument must be an integer. Received type number (1.5)');
    assert.ok(isZeroCopyError(error));
    assert.equal(isZeroCopyError(new TypeError('x')), false);
    const abort = createError('ABORT_ERR', [], { bytesWritten: 5 });
    assert.equal(abort.name, 'AbortError');
    assert.equal(abort.bytesWritten, 5);
  });
});
