import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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

interface RunOptions {
  input?: Buffer;
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
  /** The child's umask (set around the spawn; a child inherits it). */
  umask?: number;
  env?: NodeJS.ProcessEnv;
}

function run(args: string[], options: RunOptions = {}): Promise<Run> {
  const previousUmask = options.umask === undefined ? undefined : process.umask(options.umask);
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
  if (previousUmask !== undefined) process.umask(previousUmask);
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

/** Names of cp's temporary files left in `dir` (there must never be any after it exits). */
function tempFilesIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.zerocopy-tmp'));
}

/** Sends `signal` to the child as soon as its temporary file in `dir` holds data: mid-copy. */
function signalMidCopy(dir: string, signal: NodeJS.Signals): (child: ReturnType<typeof spawn>) => void {
  return (child) => {
    const poll = setInterval(() => {
      const temp = tempFilesIn(dir)[0];
      if (temp && (fs.statSync(path.join(dir, temp), { throwIfNoEntry: false })?.size ?? 0) > 0) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 5);
    child.on('close', () => clearInterval(poll));
  };
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
    assert.deepEqual(tempFilesIn(tmp.dir), []);
  });

  it('copies into a directory under the source name', async () => {
    const dir = path.join(tmp.dir, 'into');
    fs.mkdirSync(dir);
    const { code } = await run(['cp', source.path, dir]);
    assert.equal(code, 0);
    assert.equal(hashFileRange(path.join(dir, 'source.bin')), source.sha256);
  });

  it('copies an empty file', async () => {
    const empty = path.join(tmp.dir, 'empty');
    fs.writeFileSync(empty, '');
    const target = path.join(tmp.dir, 'empty-copy');
    const { code, stdout } = await run(['cp', empty, target]);
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout.toString()).bytes, 0);
    assert.equal(fs.statSync(target).size, 0);
  });

  describe('modes, as cp(1) without -p', () => {
    it('issue-9: gives a new file the source mode minus the umask, without setuid/setgid', async () => {
      const setId = makeRandomFile(tmp.dir, 'set-id', 1000).path;
      fs.chmodSync(setId, 0o6777);
      const target = path.join(tmp.dir, 'set-id-copy');
      const { code } = await run(['cp', setId, target], { umask: 0o027 });
      assert.equal(code, 0);
      assert.equal(fs.statSync(target).mode & 0o7777, 0o750);
    });

    it('keeps the mode of a destination it replaces', async () => {
      const target = path.join(tmp.dir, 'kept-mode');
      fs.writeFileSync(target, 'old');
      fs.chmodSync(target, 0o604);
      assert.equal((await run(['cp', '--force', source.path, target])).code, 0);
      assert.equal(fs.statSync(target).mode & 0o7777, 0o604);
      assert.equal(hashFileRange(target), source.sha256);
    });

    it('--preserve copies mode bits and timestamps', async () => {
      const old = makeRandomFile(tmp.dir, 'old-times', 5000).path;
      fs.chmodSync(old, 0o4751);
      const mtime = new Date('2001-02-03T04:05:06.789Z');
      fs.utimesSync(old, mtime, mtime);
      const target = path.join(tmp.dir, 'preserved');
      assert.equal((await run(['cp', '--preserve', old, target], { umask: 0o077 })).code, 0);
      const stats = fs.statSync(target);
      assert.equal(stats.mtime.getTime(), mtime.getTime());
      // The set-id bit stays only where the copy has the same owner (always, for the user who copies their own file).
      assert.equal(stats.mode & 0o7777, stats.uid === fs.statSync(old).uid ? 0o4751 : 0o751);
    });
  });

  describe('replacing DST', () => {
    it('refuses to overwrite without --force, and replaces with it', async () => {
      const target = path.join(tmp.dir, 'existing.bin');
      fs.writeFileSync(target, 'keep me');
      const refused = await run(['cp', source.path, target]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, `zerocopy: '${target}' already exists (use --force to replace it)\n`);
      assert.equal(fs.readFileSync(target, 'utf8'), 'keep me');
      const forced = await run(['cp', '--force', source.path, target]);
      assert.equal(forced.code, 0);
      assert.equal(hashFileRange(target), source.sha256);
    });

    it('replaces a read-only destination with --force, keeping it read-only', async () => {
      const target = path.join(tmp.dir, 'read-only');
      fs.writeFileSync(target, 'read only');
      fs.chmodSync(target, 0o444);
      assert.equal((await run(['cp', source.path, target])).code, 1);
      assert.equal(fs.readFileSync(target, 'utf8'), 'read only');
      assert.equal((await run(['cp', '-f', source.path, target])).code, 0);
      assert.equal(hashFileRange(target), source.sha256);
      assert.equal(fs.statSync(target).mode & 0o777, 0o444);
    });

    it('writes a new inode: a hard link to the old destination keeps the old bytes', async () => {
      const target = path.join(tmp.dir, 'linked');
      const other = path.join(tmp.dir, 'linked-other-name');
      fs.writeFileSync(target, 'old bytes');
      fs.linkSync(target, other);
      assert.equal((await run(['cp', '-f', source.path, target])).code, 0);
      assert.equal(hashFileRange(target), source.sha256);
      assert.equal(fs.readFileSync(other, 'utf8'), 'old bytes');
    });

    it('--in-place writes into the existing inode, which every hard link sees', async () => {
      const target = path.join(tmp.dir, 'in-place');
      const other = path.join(tmp.dir, 'in-place-other-name');
      fs.writeFileSync(target, 'x'.repeat(30 << 20));
      fs.linkSync(target, other);
      const inode = fs.statSync(target).ino;
      assert.equal((await run(['cp', '-f', '--in-place', source.path, target])).code, 0);
      assert.equal(fs.statSync(target).ino, inode);
      assert.equal(hashFileRange(other), source.sha256, 'truncated to the new size, not left with a tail');
    });

    it('follows a symlink destination: its target gets the bytes, the link stays', async () => {
      const real = path.join(tmp.dir, 'link-target');
      const link = path.join(tmp.dir, 'link-to-target');
      fs.writeFileSync(real, 'old');
      fs.symlinkSync(real, link);
      assert.equal((await run(['cp', '-f', source.path, link])).code, 0);
      assert.ok(fs.lstatSync(link).isSymbolicLink());
      assert.equal(hashFileRange(real), source.sha256);
    });
  });

  describe('issue-9: a file onto itself', () => {
    const forms: Array<[string, (file: string, dir: string) => string]> = [
      ['the same path', (file) => file],
      ['a symlink to it', (file, dir) => { const link = path.join(dir, 'self-link'); fs.symlinkSync(file, link); return link; }],
      ['a hard link to it', (file, dir) => { const link = path.join(dir, 'self-hard'); fs.linkSync(file, link); return link; }],
      ['the directory that holds it', (_file, dir) => dir],
      ['a path through ..', (file, dir) => path.join(dir, '..', path.basename(dir), path.basename(file))],
    ];
    for (const [name, destinationOf] of forms) {
      it(`refuses ${name}, with and without --force, and the source keeps every byte`, async () => {
        const dir = fs.mkdtempSync(path.join(tmp.dir, 'self-'));
        const file = makeRandomFile(dir, 'f', 3 << 20);
        const destination = destinationOf(file.path, dir);
        const shown = destination === dir ? path.join(dir, 'f') : destination;
        for (const args of [['cp', file.path, destination], ['cp', '--force', file.path, destination], ['cp', '-f', '--in-place', file.path, destination]]) {
          const result = await run(args);
          assert.equal(result.code, 1, args.join(' '));
          assert.equal(result.stderr, `zerocopy: '${file.path}' and '${shown}' are the same file\n`);
          assert.equal(hashFileRange(file.path), file.sha256);
          assert.deepEqual(tempFilesIn(dir), []);
        }
      });
    }
  });

  describe('usage errors', () => {
    it('names what is missing and where to look, exit 2', async () => {
      const missing = await run(['cp', source.path]);
      assert.equal(missing.code, 2);
      assert.equal(missing.stderr, 'zerocopy cp: missing destination (see zerocopy cp --help)\n');
      const unknown = await run(['cp', '--foo', source.path, 'x']);
      assert.equal(unknown.code, 2);
      assert.equal(unknown.stderr, 'zerocopy cp: unknown option --foo (see zerocopy cp --help)\n');
      const negative = await run(['serve', '--workers', '-2']);
      assert.equal(negative.code, 2);
      assert.equal(negative.stderr,
        "zerocopy serve: option --workers needs a value, and values starting with '-' are not accepted (negative numbers included) (see zerocopy serve --help)\n",
        'one line in words, not parseArgs\' three');
    });

    it('reports a missing source in words, exit 1', async () => {
      const nope = path.join(tmp.dir, 'nope');
      const missing = await run(['cp', nope, path.join(tmp.dir, 'x')]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr, `zerocopy: cannot open '${nope}': no such file or directory (ENOENT)\n`);
    });

    it('--help says what a safe replace means for hard links', async () => {
      const help = await run(['cp', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout.toString(), /hard\s+links to the old DST keep the old\s+bytes/);
      assert.match(help.stdout.toString(), /--in-place/);
    });
  });

  describe('issue-9: interrupted or failed copies leave DST as it was', () => {
    let sparse: string;
    before(() => {
      sparse = path.join(tmp.dir, 'sparse.bin');
      fs.closeSync(fs.openSync(sparse, 'w'));
      fs.truncateSync(sparse, 2 * 1024 ** 3); // 2 GiB of holes: instant to make, seconds to copy through user space
    });

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`${signal} mid-copy: the existing DST is unchanged, no temporary file is left, exit 128+N`, async () => {
        const dir = fs.mkdtempSync(path.join(tmp.dir, 'interrupt-'));
        const target = path.join(dir, 'existing');
        fs.writeFileSync(target, 'precious');
        const result = await run(['cp', '--copy', '--force', sparse, target], { onSpawn: signalMidCopy(dir, signal) });
        assert.equal(result.code, 128 + os.constants.signals[signal], result.stderr);
        assert.equal(result.stderr, `zerocopy: interrupted by ${signal}; '${target}' is unchanged\n`);
        assert.equal(fs.readFileSync(target, 'utf8'), 'precious');
        assert.deepEqual(tempFilesIn(dir), []);
      });
    }

    it('SIGINT mid-copy to a new DST: nothing is created', async () => {
      const dir = fs.mkdtempSync(path.join(tmp.dir, 'interrupt-new-'));
      const target = path.join(dir, 'new');
      const result = await run(['cp', '--copy', sparse, target], { onSpawn: signalMidCopy(dir, 'SIGINT') });
      assert.equal(result.code, 130, result.stderr);
      assert.equal(result.stderr, `zerocopy: interrupted by SIGINT; '${target}' was not created\n`);
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    it('SIGINT mid-copy through a symlink DST: the link and its target are unchanged', async () => {
      const dir = fs.mkdtempSync(path.join(tmp.dir, 'interrupt-link-'));
      const real = path.join(dir, 'real');
      const link = path.join(dir, 'link');
      fs.writeFileSync(real, 'precious');
      fs.symlinkSync(real, link);
      const result = await run(['cp', '--copy', '-f', sparse, link], { onSpawn: signalMidCopy(dir, 'SIGINT') });
      assert.equal(result.code, 130, result.stderr);
      assert.equal(fs.readlinkSync(link), real);
      assert.equal(fs.readFileSync(real, 'utf8'), 'precious');
      assert.deepEqual(tempFilesIn(dir), []);
    });

    it('a write error (a full file system) leaves the old DST and no temporary file', async (t) => {
      // A 4 MiB tmpfs in a private mount namespace: gone when the shell exits.
      const dir = fs.mkdtempSync(path.join(tmp.dir, 'full-'));
      const script = [
        'mount -t tmpfs -o size=4m zerocopy-test "$1" || exit 99',
        'printf precious > "$1/dst"',
        '"$2" "$3" cp -f "$4" "$1/dst"; echo "exit=$?"',
        'ls -A "$1"; cat "$1/dst"',
      ].join('\n');
      const big = makeRandomFile(tmp.dir, 'eight-mib', 8 << 20).path;
      const probe = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh', dir, process.execPath, BIN, big], { encoding: 'utf8' });
      if (probe.error || probe.status === 99 || probe.status === 1 && /unshare failed|Operation not permitted/.test(probe.stderr)) {
        t.skip(`needs unshare -m and mount (as root): ${probe.error?.message ?? probe.stderr.trim()}`);
        return;
      }
      assert.match(probe.stderr, new RegExp(`^zerocopy: copying '${big}' to '${dir}/dst' failed: no space left on device \\(ENOSPC\\); '${dir}/dst' is unchanged\n$`));
      assert.equal(probe.stdout, 'exit=1\ndst\nprecious');
    });
  });

  it('copies a file larger than 4 GiB (sparse) with its bytes at the right offsets', async (t) => {
    const SIZE = 4 * 1024 ** 3 + 12345;
    // copy_file_range writes a sparse file's holes as zeros on most file
    // systems: 4 GiB of RAM on tmpfs for a few seconds (it is freed at once).
    const dir = [ '/dev/shm', os.tmpdir() ].find((candidate) => {
      try {
        const stats = fs.statfsSync(candidate);
        return stats.bavail * stats.bsize > 2 * SIZE;
      } catch {
        return false;
      }
    });
    if (!dir) {
      t.skip('no file system with 8 GiB free for the copy');
      return;
    }
    const work = fs.mkdtempSync(path.join(dir, 'zerocopy-test-4g-'));
    try {
      const big = path.join(work, 'big');
      const marks: Array<[number, string]> = [[0, 'head'], [2 ** 32 - 2, 'edge'], [2 ** 32 + 7, 'past'], [SIZE - 4, 'tail']];
      const fd = fs.openSync(big, 'w');
      for (const [at, text] of marks) fs.writeSync(fd, text, at);
      fs.closeSync(fd);
      const target = path.join(work, 'copy');
      const { code, stdout, stderr } = await run(['cp', big, target]);
      assert.equal(code, 0, stderr);
      assert.equal(JSON.parse(stdout.toString()).bytes, SIZE);
      assert.equal(fs.statSync(target).size, SIZE);
      const copy = fs.openSync(target, 'r');
      try {
        for (const [at, text] of marks) {
          const read = Buffer.alloc(text.length);
          fs.readSync(copy, read, 0, read.length, at);
          assert.equal(read.toString(), text, `bytes at ${at}`);
        }
        const hole = Buffer.alloc(4096, 1);
        fs.readSync(copy, hole, 0, hole.length, 2 ** 32 + 4096);
        assert.ok(hole.every((byte) => byte === 0), 'a hole past 4 GiB reads as zeros');
      } finally {
        fs.closeSync(copy);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
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
    assert.equal(stderr, `zerocopy: cannot read '${path.join(tmp.dir, 'missing')}': no such file or directory (ENOENT)\n`);
    assert.deepEqual(stdout, fs.readFileSync(b.path));
  });
});

describe('zerocopy (no command, help)', () => {
  it('issue-9: bare `zerocopy` prints the usage on stderr and exits 2', async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /^Usage: zerocopy <command> \[options\]\n/);
  });

  it('`zerocopy help` and `--help` print the usage on stdout, exit 0', async () => {
    for (const args of [['help'], ['--help'], ['-h']]) {
      const r = await run(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout.toString(), /^Usage: zerocopy <command> \[options\]\n/);
    }
  });

  it('issue-9: `zerocopy help serve` prints serve\'s own help, as `serve --help` does', async () => {
    for (const command of ['serve', 'cp', 'cat', 'proxy']) {
      const viaHelp = await run(['help', command]);
      const viaFlag = await run([command, '--help']);
      assert.equal(viaHelp.code, 0);
      assert.match(viaHelp.stdout.toString(), new RegExp(`^Usage: zerocopy ${command} `));
      assert.deepEqual(viaHelp.stdout, viaFlag.stdout);
    }
  });

  it('an unknown command is a usage error', async () => {
    const r = await run(['frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "zerocopy: unknown command 'frobnicate' (see zerocopy --help)\n");
  });

  it('issue-9: without the addon every command still works, and one warning line says why', async () => {
    // A copy of the package whose native build failed: the compiled JS, and
    // the marker scripts/build-native.js leaves instead of an addon.
    const tmp = makeTempDir();
    try {
      const repo = path.resolve(path.dirname(BIN), '..');
      const copy = path.join(tmp.dir, 'zerocopy');
      fs.mkdirSync(path.join(copy, 'native', 'build'), { recursive: true });
      fs.cpSync(path.join(repo, 'dist', 'src'), path.join(copy, 'dist', 'src'), { recursive: true });
      fs.cpSync(path.join(repo, 'bin'), path.join(copy, 'bin'), { recursive: true });
      fs.copyFileSync(path.join(repo, 'package.json'), path.join(copy, 'package.json'));
      fs.symlinkSync(path.join(repo, 'node_modules'), path.join(copy, 'node_modules'));
      fs.writeFileSync(path.join(copy, 'native', 'build', 'BUILD_FAILED'), 'no headers for Node in /nowhere\n');
      const file = makeRandomFile(tmp.dir, 'f', 100000);
      const bin = path.join(copy, 'bin', 'zerocopy.js');
      const child = spawnSync(process.execPath, [bin, 'cp', file.path, path.join(tmp.dir, 'g')], { encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
      assert.equal(JSON.parse(child.stdout).method, 'copy');
      assert.equal(hashFileRange(path.join(tmp.dir, 'g')), file.sha256);
      assert.equal(child.stderr, 'zerocopy: warning: native addon unavailable (the native build failed: no headers for Node in /nowhere); transfers copy through user space\n');
      const asked = spawnSync(process.execPath, [bin, 'cp', file.path, path.join(tmp.dir, 'h')], { encoding: 'utf8', env: { ...process.env, ZEROCOPY_NATIVE: '0' } });
      assert.equal(asked.status, 0);
      assert.equal(asked.stderr, '', 'ZEROCOPY_NATIVE=0 asked for the copy path: no warning');
    } finally {
      tmp.remove();
    }
  });
});

