#!/usr/bin/env node
// Builds the native addon from source with npm's bundled node-gyp, offline.
//
// node-gyp downloads Node's headers unless it is told where they are. The
// running Node's install prefix ships them (include/node/node_api.h) in the
// official tarballs and in distro packages, so --nodedir points there.
// Outside Linux the addon is skipped: the library then copies through
// user space, and says so in every transfer's `method`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

if (process.platform !== 'linux') {
  console.log(`zerocopy: no native addon on ${process.platform}; transfers will use the copy fallback`);
  process.exit(0);
}
if (process.env.ZEROCOPY_SKIP_NATIVE_BUILD === '1') {
  console.log('zerocopy: ZEROCOPY_SKIP_NATIVE_BUILD=1, not building the native addon');
  process.exit(0);
}

function findNodeGyp() {
  // npm sets this for lifecycle scripts; it points at npm's own node-gyp.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const prefix = path.resolve(process.execPath, '..', '..');
  const candidates = [
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((candidate) => existsSync(candidate));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  console.error('zerocopy: cannot find node-gyp; run this through npm (npm install / npm run build)');
  process.exit(1);
}

const args = [nodeGyp, 'rebuild', '--directory', path.join(root, 'native')];
const prefix = path.resolve(process.execPath, '..', '..');
if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
if (result.status !== 0) {
  console.error('zerocopy: building the native addon failed (see above). It needs python3, make and a C compiler.');
  process.exit(result.status ?? 1);
}
