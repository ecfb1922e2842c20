import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createPalette, shouldColor } from '../../src/cli/color.js';

describe('shouldColor', () => {
  const table: Array<[boolean | undefined, NodeJS.ProcessEnv, boolean]> = [
    [true, {}, true],
    [false, {}, false],
    [undefined, {}, false],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: 'anything' }, false],
    [true, { NO_COLOR: '' }, true], // no-color.org: only a non-empty value disables
  ];
  for (const [isTTY, env, expected] of table) {
    it(`isTTY=${isTTY} env=${JSON.stringify(env)} → ${expected}`, () => {
      assert.equal(shouldColor({ isTTY }, env), expected);
    });
  }
});

describe('createPalette', () => {
  it('paints statuses by class when enabled', () => {
    const palette = createPalette(true);
    assert.equal(palette.status(200)('200'), '\x1b[32m200\x1b[0m');
    assert.equal(palette.status(304)('304'), '\x1b[36m304\x1b[0m');
    assert.equal(palette.status(404)('404'), '\x1b[33m404\x1b[0m');
    assert.equal(palette.status(500)('500'), '\x1b[31m500\x1b[0m');
  });
  it('is the identity when disabled', () => {
    const palette = createPalette(false);
    assert.equal(palette.status(500)('500'), '500');
    assert.equal(palette.url('http://x/'), 'http://x/');
  });
});
