/**
 * issue-9: the package installs and works as a user gets it. scripts/check-package.js
 * packs this checkout, installs the tarball into an empty project (once
 * normally, once with a C compiler that fails) and runs transfers and the
 * CLI there; this test holds it to what it prints.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function hasNpm(): boolean {
  return spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;
}

describe('the packed package', { skip: hasNpm() ? false : 'needs npm to pack and install the package' }, () => {
  it('installs from its tarball into an empty project and works; a failed native build still installs, on the copy path', () => {
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
    const check = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'check-package.js'), '--no-build', '--broken-compiler'], {
      cwd: ROOT,
      encoding: 'utf8',
      env,
      timeout: 240_000,
    });
    assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
    const [normal, broken] = check.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual([normal.native, normal.copyMethod, normal.sendMethod, normal.cliStderr], [true, 'copy_file_range', 'sendfile', '']);
    assert.equal(broken.native, false);
    assert.equal(broken.copyMethod, 'copy');
    assert.equal(broken.sendMethod, 'copy');
    assert.match(broken.reason, /^the native build failed: /);
    assert.equal(broken.cliStderr, `zerocopy: warning: native addon unavailable (${broken.reason}); transfers copy through user space`);
  });
});
