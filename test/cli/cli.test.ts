import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { makeRandomFile, makeTempDir, hashFileRange, type Fixture } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/zerocopy.js');

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function run(args: string[], options: { input?: Buffer; onSpawn?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  options.onSpawn?.(child);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => stdout.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  child.stdin.end(options.input ?? Buffer.alloc(0));
  return withTimeout(
    new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }))),
    60000,
    `zerocopy ${args.join(' ')}`,
  );
}

describe('zerocopy cp', () => {
  const tmp = makeTempDir();
  let source: Fixture;
  before(() => {
    source = makeRandomFile(tmp.dir, 'source.bin', 24 << 20);
    fs.chmodSync(source.path, 0o640);
  });
  after(() => tmp.remove());

  it('copies with copy_file_range and prints a JSON summary when stdout is not a TTY', async () => {
    const target = path.join(tmp.dir, 'copy.bin');
    const { code, stdout } = await run(['cp', source.path, target]);
    assert.equal(code, 0);
    const summary = JSON.parse(stdout.toString());
    assert.equal(summary.bytes, source.size);
    assert.equal(summary.method, 'copy_file_range');
    assert.equal(summary.destination, target);
    assert.equal(hashFileRange(target), source.sha256);
    assert.equal(fs.statSync(target).mode & 0o777, 0o640, 'mode preserved');
  });

  it('copies into a directory under the source name', async () => {
    const dir = path.join(tmp.dir, 'into');
    fs.mkdirSync(dir);
    const { code } = await run(['cp', source.path, dir]);
    assert.equal(code, 0);
    assert.equal(hashFileRange(path.join(dir, 'source.bin')), source.sha256);
  });

  it('refuses to overwrite without --force, and overwrites with it', async () => {
    const target = path.join(tmp.dir, 'existing.bin');
    fs.writeFileSync(target, 'keep me');
    const refused = await run(['cp', source.path, target]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Refusing to overwrite .*existing\.bin/);
    assert.equal(fs.readFileSync(target, 'utf8'), 'keep me');
    const forced = await run(['cp', '--force', source.path, target]);
    assert.equal(forced.code, 0);
    assert.equal(hashFileRange(target), source.sha256);
  });

  it('reports a missing source and usage errors with distinct exit codes', async () => {
    const missing = await run(['cp', path.join(tmp.dir, 'nope'), path.join(tmp.dir, 'x')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ENOENT/);
    const usage = await run(['cp', source.path]);
    assert.equal(usage.code, 2);
  });

  it('removes the partial destination when interrupted with Ctrl-C', async () => {
    const sparse = path.join(tmp.dir, 'sparse.bin');
    fs.closeSync(fs.openSync(sparse, 'w'));
    fs.truncateSync(sparse, 2 * 1024 ** 3); // 2 GiB of holes: instant to make, slow to copy through user space
    const target = path.join(tmp.dir, 'interrupted.bin');
    const result = await run(['cp', '--copy', sparse, target], {
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if ((fs.statSync(target, { throwIfNoEntry: false })?.size ?? 0) > 0) {
            clearInterval(poll);
            child.kill('SIGINT');
          }
        }, 5);
        child.on('close', () => clearInterval(poll));
      },
    });
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /interrupted; removed partial/);
    assert.equal(fs.existsSync(target), false);
  });
});

describe('zerocopy cat', () => {
  const tmp = makeTempDir();
  let a: Fixture;
  let b: Fixture;
  before(() => {
    a = makeRandomFile(tmp.dir, 'a.bin', 3 << 20);
    b = makeRandomFile(tmp.dir, 'b.bin', 12345);
  });
  after(() => tmp.remove());

  it('writes files in order to a stdout pipe with sendfile', async () => {
    const { code, stdout, stderr } = await run(['cat', '--verbose', a.path, b.path]);
    assert.equal(code, 0);
    assert.deepEqual(stdout, Buffer.concat([fs.readFileSync(a.path), fs.readFileSync(b.path)]));
    assert.match(stderr, /a\.bin: 3145728 bytes, sendfile/);
    assert.match(stderr, /b\.bin: 12345 bytes, sendfile/);
  });

  it('splices stdin when given "-"', async () => {
    const input = fs.readFileSync(b.path);
    const { code, stdout, stderr } = await run(['cat', '-v', '-'], { input });
    assert.equal(code, 0);
    assert.deepEqual(stdout, input);
    assert.match(stderr, /-: 12345 bytes, splice/);
  });

  it('writes to a regular file as stdout', async () => {
    const out = path.join(tmp.dir, 'out.bin');
    const fd = fs.openSync(out, 'w');
    const child = spawn(process.execPath, [BIN, 'cat', a.path], { stdio: ['ignore', fd, 'pipe'] });
    const code = await new Promise((resolve) => child.on('close', resolve));
    fs.closeSync(fd);
    assert.equal(code, 0);
    assert.equal(hashFileRange(out), a.sha256);
  });

  it('reports a missing file, keeps going, and exits 1', async () => {
    const { code, stdout, stderr } = await run(['cat', path.join(tmp.dir, 'missing'), b.path]);
    assert.equal(code, 1);
    assert.match(stderr, /missing: ENOENT/);
    assert.deepEqual(stdout, fs.readFileSync(b.path));
  });
});
