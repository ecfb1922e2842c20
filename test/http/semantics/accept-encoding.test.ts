import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { negotiateEncoding, type PrecompressedEncoding } from '../../../src/http/semantics/accept-encoding.js';

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
