import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { canonicalHeaderName } from '../../../src/http/semantics/header-case.js';

describe('canonicalHeaderName', () => {
  const table: [string, string][] = [
    ['content-type', 'Content-Type'], ['etag', 'ETag'], ['content-security-policy', 'Content-Security-Policy'],
    ['x-content-type-options', 'X-Content-Type-Options'], ['accept-ranges', 'Accept-Ranges'], ['Vary', 'Vary'],
  ];
  for (const [input, expected] of table) it(`${input} → ${expected}`, () => assert.equal(canonicalHeaderName(input), expected));
});
