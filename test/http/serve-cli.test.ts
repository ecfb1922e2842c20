/**
 * `zerocopy serve` end to end: the real CLI in a child process, real
 * requests, signals. Every wait is bounded; every child is killed by PID in
 * `after` if a test left it running.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../helpers/fixtures.js';
import { collect } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';
import { get, rawGet } from './static-helpers.js';

const CLI = fileURLToPath(new URL('../../../bin/zerocopy.js', import.meta.url));
const children = new Set<ChildProcess>();

interface Served {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
}

/** Starts `zerocopy serve ...args` and waits (bounded) for its first stdout line with a URL. */
async function serve(args: string[], options: { cwd?: string; json?: boolean } = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk));
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  exit.then(() => children.delete(child));
  const url = await withTimeout(new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /(http:\/\/[^\s"]+\/)/.exec(out);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', check);
    void exit.then(([code]) => reject(new Error(`exited ${code}: ${err}`)));
  }), 10000, 'zerocopy serve listening');
  return { child, url, stdout: () => out, stderr: () => err, exit };
}

/** Runs the CLI to completion (bad arguments and the like). */
async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = await withTimeout(once(child, 'exit'), 10000, `zerocopy ${args.join(' ')}`);
  children.delete(child);
  return { code: code as number | null, stdout, stderr };
}

async function portIsFree(port: number): Promise<boolean> {
  const probe = net.createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('zerocopy serve (CLI)', () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'site');
  let big: Fixture;

  before(() => {
    fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'index.html'), '<h1>home</h1>');
    fs.writeFileSync(path.join(root, 'hello.txt'), 'Hello, world!\n');
    fs.writeFileSync(path.join(root, 'docs', 'a.txt'), 'a');
    fs.writeFileSync(path.join(root, 'app.js'), 'x'.repeat(1000));
    fs.writeFileSync(path.join(root, 'app.js.br'), zlib.brotliCompressSync(Buffer.from('x'.repeat(1000))));
    big = makeRandomFile(root, 'big.bin', 32 << 20);
  });
  after(() => {
    for (const child of children) child.kill('SIGKILL');
    tmp.remove();
  });

  it('with no flags serves the current directory on 127.0.0.1:8080 and prints the URL', async (t) => {
    if (!(await portIsFree(8080))) {
      t.skip('port 8080 is in use on this machine');
      return;
    }
    const s = await serve([], { cwd: root });
    try {
      assert.equal(s.url, 'http://127.0.0.1:8080/');
      assert.match(s.stdout(), new RegExp(`^Serving ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at http://127\\.0\\.0\\.1:8080/\\n`));
      assert.equal((await get(`${s.url}hello.txt`)).body.toString(), 'Hello, world!\n');
    } finally {
      s.child.kill('SIGTERM');
      await withTimeout(s.exit, 5000, 'exit');
    }
  });

  it('--log writes Common Log Format lines with the body method; SIGTERM exits 0', async () => {
    const s = await serve([root, '--port', '0', '--log']);
    const r = await get(`${s.url}big.bin`);
    assert.equal(sha256(r.body), big.sha256);
    await get(`${s.url}hello.txt`);
    s.child.kill('SIGTERM');
    const [code] = await withTimeout(s.exit, 5000, 'exit after SIGTERM');
    assert.equal(code, 0);
    assert.match(s.stdout(), /"GET \/big\.bin HTTP\/1\.1" 200 33554432 sendfile\n/);
    assert.match(s.stdout(), /"GET \/hello\.txt HTTP\/1\.1" 200 14 memory\n/);
    assert.match(s.stderr(), /stopped \(SIGTERM\)/);
  });

  it('--json prints the listening event and log entries as JSON lines', async () => {
    const s = await serve([root, '--port', '0', '--log', '--json']);
    await get(`${s.url}hello.txt`);
    s.child.kill('SIGINT');
    const [code] = await withTimeout(s.exit, 5000, 'exit after SIGINT');
    assert.equal(code, 0);
    const lines = s.stdout().trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(lines[0].event, 'listening');
    assert.equal(lines[0].url, s.url);
    assert.equal(lines[0].body, 'sendfile');
    assert.deepEqual([lines[1].url, lines[1].status, lines[1].bodyMethod], ['/hello.txt', 200, 'memory']);
    assert.equal(lines[2].event, 'stopped');
  });

  it('--spa --listing --cors --precompressed --cache 60 take effect', async () => {
    const s = await serve([root, '--port', '0', '--spa', '--listing', '--cors', '--precompressed', '--cache', '60']);
    try {
      const spa = await get(`${s.url}some/client/route`);
      assert.equal(spa.body.toString(), '<h1>home</h1>');
      assert.match((await get(`${s.url}docs/`)).body.toString(), /href="a\.txt"/);
      const hello = await get(`${s.url}hello.txt`);
      assert.equal(hello.headers.get('access-control-allow-origin'), '*');
      assert.equal(hello.headers.get('cache-control'), 'public, max-age=60');
      const app = await fetch(`${s.url}app.js`, { headers: { 'accept-encoding': 'br' } });
      assert.equal(app.headers.get('content-encoding'), 'br');
      assert.equal(Buffer.from(await app.arrayBuffer()).toString(), 'x'.repeat(1000), 'fetch decodes br');
    } finally {
      s.child.kill('SIGTERM');
      await withTimeout(s.exit, 5000, 'exit');
    }
  });

  it('--copy sends bodies through user space (the log says copy)', async () => {
    const s = await serve([root, '--port', '0', '--copy', '--log']);
    assert.equal(sha256((await get(`${s.url}big.bin`)).body), big.sha256);
    s.child.kill('SIGTERM');
    await withTimeout(s.exit, 5000, 'exit');
    assert.match(s.stdout(), /"GET \/big\.bin HTTP\/1\.1" 200 33554432 copy\n/);
  });

  it('on SIGTERM lets an in-flight download finish intact before exiting 0', async () => {
    const s = await serve([root, '--port', '0']);
    const { port } = new URL(s.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const got = collect(socket, { bytesPerSecond: 32 << 20 });
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await withTimeout(once(socket, 'data'), 5000, 'first bytes');
    s.child.kill('SIGTERM');
    const received = await withTimeout(got, 10000, 'download');
    const [code] = await withTimeout(s.exit, 10000, 'exit');
    assert.equal(code, 0);
    assert.equal(received.ending, 'end');
    assert.ok(received.bytes > big.size, `${received.bytes} bytes`);
  });

  it('--workers 2 runs two worker processes on one port, restarts one that dies, and exits 0 on SIGTERM', async () => {
    const s = await serve([root, '--port', '0', '--workers', '2']);
    try {
      assert.match(s.stdout(), /\(2 workers\)/);
      const workers = childPids(s.child.pid!);
      assert.equal(workers.length, 2);
      const port = Number(new URL(s.url).port);
      // A fresh connection per request: a pooled keep-alive connection to the
      // worker about to be killed would fail the next request.
      for (let i = 0; i < 4; i++) assert.equal((await rawGet(port, '/hello.txt')).status, 200);
      process.kill(workers[0]!, 'SIGKILL');
      await withTimeout((async () => {
        for (;;) {
          const now = childPids(s.child.pid!);
          if (now.length === 2 && !now.includes(workers[0]!)) return;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })(), 5000, 'worker restart');
      for (let i = 0; i < 4; i++) assert.equal((await rawGet(port, '/hello.txt')).status, 200);
    } finally {
      s.child.kill('SIGTERM');
    }
    const [code] = await withTimeout(s.exit, 8000, 'exit');
    assert.equal(code, 0);
  });

  describe('usage errors', () => {
    it('--help prints the usage and exits 0', async () => {
      const r = await run(['serve', '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: zerocopy serve \[DIR\]/);
    });

    it('a bad --port exits 2', async () => {
      const r = await run(['serve', root, '--port', 'http']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--port must be an integer/);
    });

    it('a missing directory exits 1', async () => {
      const r = await run(['serve', path.join(tmp.dir, 'nope')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /ENOENT/);
    });

    it('a port in use exits 1 with the reason', async () => {
      const blocker = net.createServer().listen(0, '127.0.0.1');
      await once(blocker, 'listening');
      try {
        const r = await run(['serve', root, '--port', String((blocker.address() as net.AddressInfo).port)]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /EADDRINUSE/);
      } finally {
        blocker.close();
      }
    });
  });
});
