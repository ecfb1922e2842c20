/**
 * The root is a jail (issue 3, Security): every attack a test, with both
 * open paths (openat2 RESOLVE_BENEATH, and open + /proc/self/fd check when
 * the addon is off). Requests go out raw, byte for byte, because fetch would
 * normalize the very things under test. Next to the root lies a file whose
 * marker must never appear in any response.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { setNativeForTesting } from '../../../src/native/capabilities.js';
import { makeTempDir } from '../../helpers/fixtures.js';
import { rawGet, startStatic, type StaticTestServer } from '../static-helpers.js';

const MARKER = 'TOP-SECRET-OUTSIDE-THE-ROOT';

for (const mode of ['openat2', 'open + /proc/self/fd check (ZEROCOPY_NATIVE=0)'] as const) {
  describe(`root jail (${mode})`, () => {
    const tmp = makeTempDir();
    const root = path.join(tmp.dir, 'public');
    let s: StaticTestServer;
    let follow: StaticTestServer;
    let restore = () => {};

    before(async () => {
      fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(root, 'a.txt'), 'inside');
      fs.writeFileSync(path.join(root, 'sub', 'b.txt'), 'inside too');
      fs.writeFileSync(path.join(tmp.dir, 'secret.txt'), MARKER);
      fs.mkdirSync(path.join(tmp.dir, 'outside-dir'));
      fs.writeFileSync(path.join(tmp.dir, 'outside-dir', 'secret.txt'), MARKER);
      fs.symlinkSync('../secret.txt', path.join(root, 'escape-link'));
      fs.symlinkSync(path.join(tmp.dir, 'secret.txt'), path.join(root, 'absolute-link'));
      fs.symlinkSync('../outside-dir', path.join(root, 'escape-dir'));
      fs.symlinkSync('sub/b.txt', path.join(root, 'inside-link'));
      if (mode !== 'openat2') restore = setNativeForTesting(null);
      s = await startStatic(root);
      follow = await startStatic(root, { followSymlinks: true });
    });
    after(async () => {
      await s.close();
      await follow.close();
      restore();
      tmp.remove();
    });

    const attacks: [name: string, target: string, status: number][] = [
      ['a raw .. segment', '/../secret.txt', 403],
      ['.. after a real directory', '/sub/../../secret.txt', 403],
      ['%2e%2e (encoded dots)', '/%2e%2e/secret.txt', 403],
      ['.%2e (half encoded)', '/.%2e/secret.txt', 403],
      ['%2E%2E (upper-case escapes)', '/%2E%2E/secret.txt', 403],
      ['encoded dots after a real directory', '/sub/%2e%2e/%2e%2e/secret.txt', 403],
      ['a fragment hiding a climb', '/sub/../..#/secret.txt', 403],
      ['%2f (an encoded slash joining ..)', '/%2e%2e%2fsecret.txt', 404],
      ['%2f inside a segment', '/sub%2f..%2f..%2fsecret.txt', 404],
      ['%5c (an encoded backslash)', '/..%5csecret.txt', 404],
      ['a raw backslash', '/..\\secret.txt', 400],
      ['double encoding %252e%252e (a literal name, not ..)', '/%252e%252e/secret.txt', 404],
      ['a NUL byte %00', '/a.txt%00.html', 400],
      ['overlong UTF-8 for . (%c0%ae)', '/%c0%ae%c0%ae/secret.txt', 400],
      ['overlong UTF-8 for / (%c0%af)', '/..%c0%afsecret.txt', 400],
      ['an absolute-form target climbing', 'http://127.0.0.1/../secret.txt', 403],
      ['an absolute-form file: target', 'file:///etc/passwd', 400],
      ['an authority-form target', '127.0.0.1:80', 400],
      ['a malformed escape', '/%zz', 400],
      ['a symlink whose target is outside the root', '/escape-link', 403],
      ['an absolute symlink to outside the root', '/absolute-link', 403],
      ['a file through a directory symlink leading outside', '/escape-dir/secret.txt', 403],
    ];
    for (const [name, target, status] of attacks) {
      it(`refuses ${name} (${target}) with ${status} and no byte from outside`, async () => {
        const r = await rawGet(s.port, target);
        assert.equal(r.status, status);
        assert.ok(!r.raw.includes(MARKER), 'the secret never leaves');
        assert.ok(!r.raw.toString('latin1').includes(tmp.dir), 'no path in the response');
      });
    }

    it('serves an absolute-form target inside the root (the host plays no part)', async () => {
      const r = await rawGet(s.port, 'http://elsewhere.example/sub/b.txt');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'inside too');
    });

    it('follows a symlink that stays inside the root', async () => {
      const r = await rawGet(s.port, '/inside-link');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'inside too');
    });

    it('with followSymlinks: true, follows a symlink out of the root', async () => {
      const r = await rawGet(follow.port, '/escape-link');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), MARKER);
      assert.equal((await rawGet(follow.port, '/escape-dir/secret.txt')).status, 200);
    });

    it('resolves a raw .. that stays inside the root, and ignores a fragment', async () => {
      const r = await rawGet(s.port, '/sub/../sub/b.txt?x=1#frag');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'inside too');
      assert.equal((await rawGet(s.port, '/nowhere/../sub/b.txt')).body.toString(), 'inside too', 'lexical, as nginx and express.static');
    });

    it('with followSymlinks: true, .. is still refused', async () => {
      const r = await rawGet(follow.port, '/%2e%2e/secret.txt');
      assert.equal(r.status, 403);
      assert.ok(!r.raw.includes(MARKER));
    });
  });
}
