#!/usr/bin/env node
// Proves the package a user gets works: packs this checkout with `npm pack`,
// installs the tarball into an empty project in a temp directory (as the
// README says), and there runs a copy_file_range copy, a sendfile to a
// socket on 127.0.0.1 and the CLI. Prints one JSON line per install.
//
//   npm run check:package                     pack (builds first), install, run
//   node scripts/check-package.js --no-build  pack the dist/ already built (npm test)
//   ... --broken-compiler                     also install with CC=false: the install
//                                             must succeed on the copy path and say why
//
// The tarball is checked too: LICENSE is in it, no test files are, and every
// source map points at a file that ships.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// What a user would write: the README's calls, errors handled.
const USE_SCRIPT = `
import fs from 'node:fs';
import net from 'node:net';
import { copyFileRange, sendFile, isNativeAvailable, nativeUnavailableReason } from 'zerocopy';

const copy = await copyFileRange('use.js', 'copied.js');
if (!fs.readFileSync('copied.js').equals(fs.readFileSync('use.js'))) throw new Error('copyFileRange changed the bytes');

let sent;
const server = net.createServer((socket) => {
  sendFile(socket, 'use.js')
    .then((result) => { sent = result; socket.end(); })
    .catch((error) => { console.error(error.code, error.message); socket.destroy(); });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const received = await new Promise((resolve, reject) => {
  const chunks = [];
  net.connect(server.address().port, '127.0.0.1')
    .on('data', (chunk) => chunks.push(chunk))
    .on('end', () => resolve(Buffer.concat(chunks)))
    .on('error', reject);
});
server.close();
if (!received.equals(fs.readFileSync('use.js'))) throw new Error('sendFile changed the bytes');
console.log(JSON.stringify({ native: isNativeAvailable(), reason: nativeUnavailableReason() ?? null, copyMethod: copy.method, sendMethod: sent.method, bytes: copy.bytes }));
`;


function fail(message) {
  console.error(`check-package: ${message}`);
  process.exit(1);
}

function run(command, commandArgs, options) {
  const result = spawnSync(command, commandArgs, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    fail(`${command} ${commandArgs.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zerocopy-package-'));
try {
  // 1. Pack, as `npm publish` would.
  const packArgs = ['pack', '--json', '--pack-destination', work, ...(args.has('--no-build') ? ['--ignore-scripts'] : [])];
  const packed = JSON.parse(run(npm, packArgs, { cwd: root }).stdout)[0];
  const tarball = path.join(work, packed.filename);
  const files = new Set(packed.files.map((file) => file.path));
  if (!files.has('LICENSE')) fail('LICENSE is not in the package');
  const strays = [...files].filter((file) => /^(dist\/)?test\//.test(file));
  if (strays.length > 0) fail(`test files in the package: ${strays.slice(0, 5).join(', ')}`);
  for (const file of files) {
    if (!file.endsWith('.js.map')) continue;
    const map = JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
    for (const source of map.sources) {
      const shipped = path.posix.normalize(path.posix.join(path.posix.dirname(file), map.sourceRoot ?? '', source));
      if (!files.has(shipped)) fail(`${file} points at ${shipped}, which is not in the package`);
    }
  }

  // 2. Install into an empty project and use it.
  const scenarios = [{ name: 'default', env: {} }];
  if (args.has('--broken-compiler')) scenarios.push({ name: 'broken-compiler', env: { CC: 'false', ZEROCOPY_REQUIRE_NATIVE: '' } });
  for (const scenario of scenarios) {
    const app = path.join(work, `app-${scenario.name}`);
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const env = { ...process.env, ...scenario.env };
    // Lifecycle variables of the npm running this script would leak into the nested install.
    for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
    run(npm, ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, env });

    fs.writeFileSync(path.join(app, 'use.js'), USE_SCRIPT);
    const used = JSON.parse(run(process.execPath, ['use.js'], { cwd: app, env }).stdout);
    const data = fs.readFileSync(path.join(app, 'use.js'));
    const cli = run(process.execPath, [path.join(app, 'node_modules', '.bin', 'zerocopy'), 'cp', 'use.js', 'use-copy.js'], { cwd: app, env });
    if (!fs.readFileSync(path.join(app, 'use-copy.js')).equals(data)) fail('zerocopy cp made a different file');
    const report = {
      scenario: scenario.name,
      tarball: packed.filename,
      files: files.size,
      ...used,
      cliStderr: cli.stderr.trim(),
    };
    console.log(JSON.stringify(report));
    if (scenario.name === 'default' && process.platform === 'linux' && !used.native) fail(`no native addon after a normal install: ${used.reason}`);
    if (scenario.name === 'broken-compiler' && (used.native || !/native build failed/.test(used.reason))) fail(`a broken compiler should leave the copy path with its reason: ${JSON.stringify(used)}`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
