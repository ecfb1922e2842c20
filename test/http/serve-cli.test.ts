/**
 * `zerocopy serve` end to end: the real CLI in a child process, real
 * requests, signals. Every wait is bounded; every child is killed by PID in
 * `after` if a test left it running.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';

import { spawn } from 'node:child_process';

import { childPids, CLI, killAll, portIsFree, runCli as run, serve, takePort } from '../cli/harness.js';
import { makeRandomFile, makeTempDir, sha256, type Fixture } from '../helpers/fixtures.js';
import { collect } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';
import { get, rawGet } from './static-helpers.js';

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
    killAll();
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
      const [first, capabilities, ...rest] = s.stdout().split('\n');
      assert.equal(first, `Serving ${root} at http://127.0.0.1:8080/ (bodies: sendfile)`);
      assert.match(capabilities!, /^ {2}zero-copy: .*sendfile.* \(zerocopy doctor tells more\)$/, 'the host\'s zero-copy paths');
      assert.deepEqual(rest, ['']);
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
      assert.match(s.stdout(), /\(bodies: sendfile; 2 workers\)\n/);
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
    assert.match(s.stderr(), /zerocopy serve: stopped \(SIGTERM\)\n$/);
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
      assert.equal(r.stderr, "zerocopy serve: --port must be an integer >= 0, got 'http' (see zerocopy serve --help)\n");
    });

    it('an unknown option exits 2 and says where to look', async () => {
      const r = await run(['serve', '--foo']);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, 'zerocopy serve: unknown option --foo (see zerocopy serve --help)\n');
    });

    it('a missing directory exits 1 with one line', async () => {
      const nope = path.join(tmp.dir, 'nope');
      const r = await run(['serve', nope]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `zerocopy: cannot serve '${nope}': no such file or directory (ENOENT)\n`);
    });

    it('issue-9: a port in use exits 1 with one line', async () => {
      const taken = await takePort();
      try {
        const r = await run(['serve', root, '--port', String(taken.port)]);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, `zerocopy: 127.0.0.1:${taken.port} is already in use\n`);
        assert.equal(r.stdout, '');
      } finally {
        await taken.release();
      }
    });
  });

  describe('issue-9: flags users of serve, http-server and sirv expect', () => {
    before(() => {
      fs.writeFileSync(path.join(root, 'about.html'), '<h1>about</h1>');
      fs.writeFileSync(path.join(root, '.env'), 'SECRET=1');
    });

    it('--single answers unknown routes with index.html; --ext html gives clean URLs', async () => {
      const s = await serve([root, '-p', '0', '--single', '--ext', 'html']);
      try {
        assert.equal((await get(`${s.url}app/route`)).body.toString(), '<h1>home</h1>');
        assert.equal((await get(`${s.url}about`)).body.toString(), '<h1>about</h1>');
      } finally {
        assert.equal(await s.stop(), 0);
      }
    });

    it('--max-age 60 --immutable --no-etag --cors set the headers', async () => {
      const s = await serve([root, '-p', '0', '--max-age', '60', '--immutable', '--no-etag', '--cors']);
      try {
        const r = await get(`${s.url}hello.txt`);
        assert.equal(r.headers.get('cache-control'), 'public, max-age=60, immutable');
        assert.equal(r.headers.get('etag'), null);
        assert.ok(r.headers.get('last-modified'));
        assert.equal(r.headers.get('access-control-allow-origin'), '*');
      } finally {
        assert.equal(await s.stop(), 0);
      }
    });

    it('dotfiles: hidden by default and with --no-dotfiles (404), served with --dotfiles allow', async () => {
      for (const [args, status] of [[[], 404], [['--no-dotfiles'], 404], [['--dotfiles', 'deny'], 403], [['--dotfiles', 'allow'], 200]] as const) {
        const s = await serve([root, '-p', '0', ...args]);
        try {
          assert.equal((await get(`${s.url}.env`)).status, status, args.join(' '));
        } finally {
          assert.equal(await s.stop(), 0);
        }
      }
    });

    it('-l/--listen takes PORT, HOST:PORT and tcp://HOST:PORT; -p takes a port', async () => {
      for (const args of [['-l', '0'], ['--listen', '127.0.0.1:0'], ['--listen', 'tcp://127.0.0.1:0'], ['-p', '0']]) {
        const s = await serve([root, ...args]);
        try {
          assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, args.join(' '));
          assert.equal((await get(`${s.url}hello.txt`)).body.toString(), 'Hello, world!\n');
        } finally {
          assert.equal(await s.stop(), 0);
        }
      }
    });

    it('--listen [::1]:PORT serves IPv6 loopback', async (t) => {
      if (!os.networkInterfaces().lo?.some((i) => i.address === '::1')) {
        t.skip('no IPv6 loopback here');
        return;
      }
      const s = await serve([root, '--listen', '[::1]:0']);
      try {
        assert.match(s.url, /^http:\/\/\[::1\]:\d+\/$/);
        assert.equal((await get(`${s.url}hello.txt`)).status, 200);
      } finally {
        assert.equal(await s.stop(), 0);
      }
    });

    it('--listen :PORT (every interface) prints a URL per interface address, loopback first', async () => {
      const s = await serve([root, '--listen', ':0']);
      try {
        const port = new URL(s.url).port;
        const printed = [...s.stdout().matchAll(/https?:\/\/\S+\//g)].map((m) => m[0]);
        assert.equal(printed[0], `http://127.0.0.1:${port}/`);
        for (const list of Object.values(os.networkInterfaces())) {
          for (const info of list ?? []) {
            if (info.family !== 'IPv4') continue;
            assert.ok(printed.includes(`http://${info.address}:${port}/`), `${info.address} listed in ${s.stdout()}`);
          }
        }
        assert.equal((await get(`${s.url}hello.txt`)).status, 200);
      } finally {
        assert.equal(await s.stop(), 0);
      }
    });

    it('--log json writes JSON lines; no log by default when stdout is not a terminal; --quiet --log is a usage error', async () => {
      const s = await serve([root, '-p', '0', '--log', 'json']);
      await get(`${s.url}hello.txt`);
      assert.equal(await s.stop(), 0);
      const lines = s.stdout().trim().split('\n');
      assert.match(lines[0]!, /^Serving /);
      assert.match(lines[1]!, /^ {2}zero-copy: /);
      assert.deepEqual(JSON.parse(lines[2]!).url, '/hello.txt');
      const plain = await serve([root, '-p', '0']);
      await get(`${plain.url}hello.txt`);
      assert.equal(await plain.stop(), 0);
      assert.equal(plain.stdout().split('\n').filter(Boolean).length, 2, 'only the startup lines (address, zero-copy paths)');
      const conflict = await run(['serve', '--quiet', '--log']);
      assert.equal(conflict.code, 2);
      assert.equal(conflict.stderr, 'zerocopy serve: --quiet contradicts --log (see zerocopy serve --help)\n');
    });
  });

  describe('issue-9: Ctrl-C reaches every process of the group', () => {
    it('--workers 2 stops cleanly with its stopped line, 10 times in a row (no EPIPE from a worker already gone)', async () => {
      for (let round = 0; round < 10; round++) {
        // A terminal's Ctrl-C signals the whole foreground process group at once.
        const child = spawn(process.execPath, [CLI, 'serve', root, '-p', '0', '--workers', '2'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        await withTimeout(once(child.stdout, 'data'), 10000, 'the startup line');
        process.kill(-child.pid!, 'SIGINT');
        const [code] = (await withTimeout(once(child, 'exit'), 20000, `round ${round}: exit`)) as [number | null];
        assert.equal(code, 0, `round ${round}: ${stderr}`);
        assert.match(stderr, /stopped \(SIGINT\)/, `round ${round}`);
      }
    });
  });

  describe('issue-9: startup failures with --workers end at once, in one line', () => {
    it('a port in use: exit 1 with one line, without waiting on the workers', async (t) => {
      const taken = await takePort();
      try {
        const r = await run(['serve', root, '--workers', '2', '--listen', `127.0.0.1:${taken.port}`], { timeoutMs: 10000 });
        t.diagnostic(`exited after ${r.elapsedMs} ms`);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, `zerocopy: 127.0.0.1:${taken.port} is already in use\n`);
        assert.equal(r.stdout, '');
      } finally {
        await taken.release();
      }
    });

    it('a missing root or an unreadable TLS file: one line, no worker forked', async () => {
      const nope = path.join(tmp.dir, 'nope');
      const missingRoot = await run(['serve', nope, '--workers', '2', '-l', '0']);
      assert.equal(missingRoot.code, 1);
      assert.equal(missingRoot.stderr, `zerocopy: cannot serve '${nope}': no such file or directory (ENOENT)\n`);
      const pem = path.join(tmp.dir, 'not-a-cert.pem');
      fs.writeFileSync(pem, 'hello');
      const badTls = await run(['serve', root, '--workers', '2', '-l', '0', '--tls-cert', pem, '--tls-key', pem]);
      assert.equal(badTls.code, 1);
      assert.equal(badTls.stderr, `zerocopy: --tls-cert '${pem}' is not a PEM certificate: no start line\n`);
      const missingKey = await run(['serve', root, '-l', '0', '--tls-cert', pem, '--tls-key', nope]);
      assert.equal(missingKey.stderr, `zerocopy: cannot read --tls-key '${nope}': no such file or directory (ENOENT)\n`);
    });

    it('SIGINT stops the workers and prints the stopped line, as one process does', async () => {
      const s = await serve([root, '-l', '0', '--workers', '2']);
      assert.equal((await get(`${s.url}hello.txt`)).status, 200);
      assert.equal(await s.stop('SIGINT'), 0);
      assert.equal(s.stderr(), 'zerocopy serve: stopped (SIGINT)\n');
    });
  });
});
