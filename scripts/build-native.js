#!/usr/bin/env node
// Builds the native addon from source with npm's bundled node-gyp, offline.
//
// A failed build does not fail `npm install` (the ws/bufferutil contract):
// the library works without the addon, copying through user space, and says
// why in `nativeUnavailableReason()` and in one warning line of the CLI. The
// reason is left in native/build/BUILD_FAILED for the loader to report.
// ZEROCOPY_REQUIRE_NATIVE=1 (CI sets it) makes a failed build fatal, so a
// broken build cannot hide behind the fallback.
//
// Environment:
//   ZEROCOPY_SKIP_NATIVE_BUILD=1   do not build (the copy path is used)
//   ZEROCOPY_REQUIRE_NATIVE=1      exit non-zero when the addon cannot be built
//   npm_config_nodedir=DIR         Node's headers (DIR/include/node/node_api.h),
//                                  also `npm install --nodedir=DIR`
//
// node-gyp downloads Node's headers unless told where they are, and there may
// be no network. They are looked for where node-gyp itself would find them,
// in this order: --nodedir (npm_config_nodedir), node-gyp's cache for this
// version (~/.cache/node-gyp/<version>, or npm_config_devdir), the install
// prefix of the running node (include/node: official tarballs, distro
// packages, nvm), and the node-<platform>-<arch> package that the npm `node`
// package installs next to its binary.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.join(root, 'native', 'build');
/** Read by src/native/binding.ts to say why the addon is missing. */
const FAILED_MARKER = path.join(buildDir, 'BUILD_FAILED');
const SKIPPED_MARKER = path.join(buildDir, 'BUILD_SKIPPED');
const required = process.env.ZEROCOPY_REQUIRE_NATIVE === '1';
const version = process.versions.node;

function writeMarker(file, text) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(file, `${text}\n`);
}

/** Ends the install: fatal only when ZEROCOPY_REQUIRE_NATIVE=1. */
function giveUp(reason, advice) {
  rmSync(SKIPPED_MARKER, { force: true });
  // An addon left from an earlier build would not match these sources.
  rmSync(path.join(buildDir, 'Release'), { recursive: true, force: true });
  writeMarker(FAILED_MARKER, reason);
  console.error(`zerocopy: the native addon was not built: ${reason}`);
  if (advice) console.error(`zerocopy: ${advice}`);
  if (required) {
    console.error('zerocopy: ZEROCOPY_REQUIRE_NATIVE=1, so this install fails');
    process.exit(1);
  }
  console.error('zerocopy: installing anyway; every transfer will copy through user space (isNativeAvailable() is false)');
  process.exit(0);
}

/** Ends the install without an addon, on purpose; `why` is what the loader will report. */
function skip(why) {
  rmSync(FAILED_MARKER, { force: true });
  rmSync(path.join(buildDir, 'Release'), { recursive: true, force: true });
  writeMarker(SKIPPED_MARKER, why);
  console.log(`zerocopy: native addon not built (${why}); transfers will use the copy fallback`);
  process.exit(0);
}

if (process.platform !== 'linux') {
  if (required) giveUp(`no native addon on ${process.platform}`);
  skip(`no native addon on ${process.platform}`);
}
if (process.env.ZEROCOPY_SKIP_NATIVE_BUILD === '1') {
  if (required) giveUp('ZEROCOPY_SKIP_NATIVE_BUILD=1 and ZEROCOPY_REQUIRE_NATIVE=1 contradict each other');
  skip('ZEROCOPY_SKIP_NATIVE_BUILD=1');
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

/** node-gyp's header cache: npm_config_devdir, else $XDG_CACHE_HOME/node-gyp or ~/.cache/node-gyp (env-paths). */
function nodeGypCacheDir() {
  if (process.env.npm_config_devdir) return process.env.npm_config_devdir;
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'node-gyp');
}

/** Every place node-gyp could take headers from, in its order of preference, with where each came from. */
function headerCandidates() {
  const prefix = path.resolve(process.execPath, '..', '..');
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push({ dir: path.resolve(process.env.npm_config_nodedir), from: 'npm_config_nodedir' });
  candidates.push({ dir: path.join(nodeGypCacheDir(), version), from: "node-gyp's cache" });
  candidates.push({ dir: prefix, from: "the running node's install prefix" });
  // The npm `node` package: bin/node is a copy of node-<platform>-<arch>'s, whose tarball has the headers.
  candidates.push({ dir: path.join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`), from: 'the npm node package' });
  return candidates;
}

function hasHeaders(dir) {
  return existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && existsSync(path.join(dir, 'include', 'node', 'common.gypi'));
}

/** The version node_version.h declares, e.g. '22.11.0', or undefined. */
function headerVersion(dir) {
  try {
    const text = readFileSync(path.join(dir, 'include', 'node', 'node_version.h'), 'utf8');
    const part = (name) => new RegExp(`#define ${name} (\\d+)`).exec(text)?.[1];
    return [part('NODE_MAJOR_VERSION'), part('NODE_MINOR_VERSION'), part('NODE_PATCH_VERSION')].join('.');
  } catch {
    return undefined;
  }
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  giveUp('cannot find node-gyp', 'run the install through npm (npm install / npm rebuild zerocopy), which brings its own node-gyp');
}

const candidates = headerCandidates();
const usable = candidates.filter((candidate) => hasHeaders(candidate.dir));
// This version's own headers first (a globally configured nodedir may be
// another Node's); Node-API is ABI-stable, so any version builds a working
// addon when none matches.
const headers = usable.find((candidate) => headerVersion(candidate.dir) === version) ?? usable[0];
if (!headers) {
  giveUp(
    `no headers for Node ${version} (include/node/node_api.h) in ${candidates.map((c) => c.dir).join(', ')}`,
    'point at a directory that has them with `npm install --nodedir=DIR` (or npm_config_nodedir=DIR), ' +
      `or fetch them once online with \`npx node-gyp install ${version}\`, then \`npm rebuild zerocopy\``,
  );
}

const found = headerVersion(headers.dir) ?? 'unknown version';
console.log(`zerocopy: building the native addon for Node ${version} with the headers of Node ${found} from ${headers.dir} (${headers.from})`);
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--directory', path.join(root, 'native'), `--nodedir=${headers.dir}`], {
  stdio: ['inherit', 'inherit', 'pipe'],
  cwd: root,
  encoding: 'utf8',
});
process.stderr.write(result.stderr ?? '');
if (result.status !== 0) {
  // The first compiler or make complaint says more than node-gyp's exit status.
  const complaint = (result.stderr ?? '').split('\n').find((line) => /\berror\b|not found|No such file/i.test(line) && !/^gyp (ERR|info)/.test(line));
  const why = result.error?.message ?? complaint?.trim().slice(0, 200) ?? `node-gyp exited with ${result.signal ?? result.status}`;
  giveUp(why, 'building needs python3, make and a C compiler (apt-get install python3 make gcc); the full output is above');
}
rmSync(FAILED_MARKER, { force: true });
rmSync(SKIPPED_MARKER, { force: true });
