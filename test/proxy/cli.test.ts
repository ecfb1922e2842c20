import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';

import { collect } from '../helpers/net.js';
import { withTimeout } from '../helpers/process.js';
import {
  closedWithin,
  connectClient,
  MIB,
  pump,
  refusedPort,
  spawnProxyCli,
  startEchoUpstream,
  startUpstream,
  type ProxyProcess,
  type Upstream,
} from './harness.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/zerocopy.js');

/** Runs `zerocopy ...args` to completion (bounded); resolves its exit code and output. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return withTimeout(new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))), 20000, `zerocopy ${args.join(' ')}`);
}

describe('zerocopy proxy (command line)', () => {
  let echo: Upstream;
  const running: ProxyProcess[] = [];
  before(async () => {
    echo = await startEchoUpstream();
  });
  after(() => echo.close());
  afterEach(async () => {
    for (const proxy of running.splice(0)) await proxy.stop();
  });

  async function spawnProxy(args: string[]): Promise<ProxyProcess> {
    const proxy = await spawnProxyCli(args);
    running.push(proxy);
    return proxy;
  }

  it('prints its usage with every option, and is listed by `zerocopy --help`', async () => {
    const help = await runCli(['proxy', '--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--listen', '--to', '--max-conns', '--idle-timeout', '--connect-timeout', '--fail-timeout', '--drain-timeout', '--max-pipes', '--send-proxy',
      '--send-proxy-v2', '--json', '--copy']) {
      assert.ok(help.stdout.includes(flag), `usage mentions ${flag}`);
    }
    const top = await runCli(['--help']);
    assert.match(top.stdout, /^\s+proxy\s+/m);
  });

  it('exits 2 with a message for missing or malformed options', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['proxy', '--listen', '127.0.0.1:0'], /missing --to/],
      [['proxy', '--listen', '127.0.0.1:0', '--to', '127.0.0.1'], /--to takes HOST:PORT/],
      [['proxy', '--listen', 'nowhere', '--to', '127.0.0.1:1'], /--listen takes PORT, HOST:PORT/],
      [['proxy', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:1', '--idle-timeout', 'soon'], /--idle-timeout takes a number of seconds/],
      [['proxy', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:1', '--fail-timeout', 'never'], /--fail-timeout takes a number of seconds/],
      [['proxy', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:1', '--max-conns', '-3'], /max-conns/],
      [['proxy', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:1', '--send-proxy', '--send-proxy-v2'], /choose one/],
      [['proxy', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:1', '--bogus'], /bogus/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, `${args.join(' ')} → ${stderr}`);
      assert.match(stderr, message);
    }
  });

  it('exits 1 when it cannot listen', async () => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => taken.once('listening', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const { code, stderr } = await runCli(['proxy', '--listen', `127.0.0.1:${port}`, '--to', '127.0.0.1:1']);
      assert.equal(code, 1);
      assert.equal(stderr, `zerocopy: 127.0.0.1:${port} is already in use\n`);
    } finally {
      taken.close();
    }
  });

  it('relays 16 MiB both ways by splice and logs a JSON record per connection', async () => {
    const proxy = await spawnProxy(['--to', `127.0.0.1:${echo.port}`, '--json']);
    const listening = JSON.parse(proxy.stdout[0]!);
    assert.deepEqual([listening.event, listening.address, listening.upstreams, listening.method],
      ['listening', `127.0.0.1:${proxy.port}`, [`127.0.0.1:${echo.port}`], 'splice']);
    assert.match(listening.capabilities, /^zero-copy: .*splice/, 'the host\'s zero-copy paths');
    assert.match(listening.pipeSize, /^\d+ (KiB|MiB)/, 'the pipe size the kernel gives');
    const client = await connectClient(proxy.port);
    const back = collect(client);
    const sent = await pump(client, 16 * MIB, 9);
    client.end();
    const got = await withTimeout(back, 30000, 'echo');
    assert.equal(got.sha256, sent);
    const record = JSON.parse(await proxy.waitForLine('stdout', /"event":"connection"/));
    assert.equal(record.toUpstream, 16 * MIB);
    assert.equal(record.toClient, 16 * MIB);
    assert.equal(record.method, 'splice');
    assert.equal(record.outcome, 'closed');
    assert.equal(record.upstream, `127.0.0.1:${echo.port}`);
    assert.equal(typeof record.durationMs, 'number');
    assert.equal(await proxy.stop(), 0);
  });

  it('copies with --copy and says why in its log line', async () => {
    const proxy = await spawnProxy(['--to', `127.0.0.1:${echo.port}`, '--copy']);
    assert.match(proxy.stdout[0]!, /\(copy: forced by --copy\)/);
    const client = await connectClient(proxy.port);
    const back = collect(client, { keep: true });
    client.end('copied');
    assert.equal((await withTimeout(back, 5000, 'echo')).data!.toString(), 'copied');
    const line = await proxy.waitForLine('stdout', /connection id=1/);
    assert.match(line, /method=copy copy_reason=forced to_upstream=6 to_client=6 .*outcome=closed/);
  });

  it('copies with --max-pipes 0 and names the pool as the reason', async () => {
    const proxy = await spawnProxy(['--to', `127.0.0.1:${echo.port}`, '--max-pipes', '0']);
    const client = await connectClient(proxy.port);
    const back = collect(client, { keep: true });
    client.end('no pipe for me');
    assert.equal((await withTimeout(back, 5000, 'echo')).data!.toString(), 'no pipe for me');
    const line = await proxy.waitForLine('stdout', /connection id=1/);
    assert.match(line, /method=copy copy_reason=no-pipe /);
  });

  it('writes a clear line to stderr when every upstream is down, and closes the client', async () => {
    const [a, b] = [await refusedPort(), await refusedPort()];
    const proxy = await spawnProxy(['--to', `127.0.0.1:${a},127.0.0.1:${b}`, '--connect-timeout', '0.5']);
    const client = await connectClient(proxy.port);
    await withTimeout(closedWithin(client), 5000, 'client closed');
    const line = await proxy.waitForLine('stderr', /upstreams-down/);
    assert.match(line, new RegExp(`tried="127\\.0\\.0\\.1:${a} ECONNREFUSED, 127\\.0\\.0\\.1:${b} ECONNREFUSED" \\(all upstreams down`));
    const record = await proxy.waitForLine('stdout', /connection id=1/);
    assert.match(record, /upstream=- .*outcome=no-upstream/);
  });

  it('sends a PROXY v2 header with --send-proxy-v2', async () => {
    const upstream = await startUpstream();
    try {
      const proxy = await spawnProxy(['--to', `127.0.0.1:${upstream.port}`, '--send-proxy-v2']);
      const client = await connectClient(proxy.port);
      const clientPort = client.localPort!;
      client.end('payload');
      const server = await upstream.nextConnection();
      const got = await withTimeout(collect(server, { keep: true }), 5000, 'upstream read');
      const header = Buffer.from('0d0a0d0a000d0a515549540a2111000c7f0000017f000001', 'hex');
      assert.ok(got.data!.subarray(0, header.length).equals(header));
      assert.equal(got.data!.readUInt16BE(header.length), clientPort);
      assert.equal(got.data!.readUInt16BE(header.length + 2), proxy.port);
      assert.equal(got.data!.subarray(header.length + 4).toString(), 'payload');
      server.end();
    } finally {
      await upstream.close();
    }
  });

  it('turns away connections over --max-conns and logs them on stderr', async () => {
    const proxy = await spawnProxy(['--to', `127.0.0.1:${echo.port}`, '--max-conns', '1']);
    const first = await connectClient(proxy.port);
    const echoed = new Promise((resolve) => first.once('data', resolve));
    first.write('hi');
    await withTimeout(echoed, 5000, 'first echo');
    const second = await connectClient(proxy.port);
    await withTimeout(closedWithin(second), 5000, 'second turned away');
    assert.match(await proxy.waitForLine('stderr', /rejected/), /reason=max-connections limit=1/);
    first.destroy();
  });

  it('drains on SIGTERM: stops accepting, lets the live connection finish, then exits 0', async () => {
    const upstream = await startUpstream();
    try {
      const proxy = await spawnProxy(['--to', `127.0.0.1:${upstream.port}`]);
      const client = await connectClient(proxy.port);
      const server = await upstream.nextConnection();
      const atServer = collect(server);
      client.write(crypto.randomBytes(MIB));
      proxy.child.kill('SIGTERM');
      await proxy.waitForLine('stderr', /draining signal=SIGTERM live=1/);
      const refused = await new Promise<string>((resolve) => {
        net.connect(proxy.port, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')).on('connect', () => resolve('connected'));
      });
      assert.equal(refused, 'ECONNREFUSED', 'no longer accepting');
      assert.equal(proxy.child.exitCode, null, 'still running while a connection is live');
      client.end(crypto.randomBytes(MIB));
      assert.equal((await withTimeout(atServer, 10000, 'upstream read')).bytes, 2 * MIB);
      const atClient = collect(client, { keep: true });
      server.end('goodbye');
      assert.equal((await withTimeout(atClient, 5000, 'client read')).data!.toString(), 'goodbye');
      assert.equal(await withTimeout(proxy.exited, 5000, 'exit'), 0);
      assert.ok(proxy.stderr.some((line) => /stopped finished=1 aborted=0/.test(line)), proxy.stderr.join('\n'));
      assert.ok(proxy.stdout.some((line) => /connection id=1 .*to_upstream=2097152 to_client=7 .*outcome=closed/.test(line)), proxy.stdout.join('\n'));
    } finally {
      await upstream.close();
    }
  });

  it('cuts connections still live at --drain-timeout and exits 0', async () => {
    const proxy = await spawnProxy(['--to', `127.0.0.1:${echo.port}`, '--drain-timeout', '0.3', '--json']);
    const client = await connectClient(proxy.port);
    const echoed = new Promise((resolve) => client.once('data', resolve));
    client.write('staying');
    await withTimeout(echoed, 5000, 'echo');
    const began = Date.now();
    const cut = closedWithin(client);
    proxy.child.kill('SIGTERM');
    assert.equal(await withTimeout(proxy.exited, 5000, 'exit'), 0);
    assert.ok(Date.now() - began < 3000, `exited ${Date.now() - began} ms after SIGTERM`);
    const ms = await withTimeout(cut, 5000, 'client cut');
    assert.ok(ms >= 250, `cut at the deadline, after ${ms} ms`);
    const records = proxy.stdout.map((line) => JSON.parse(line));
    assert.deepEqual(records.map((r) => r.event), ['listening', 'draining', 'connection', 'stopped']);
    assert.equal(records[2].outcome, 'drain-deadline');
    assert.deepEqual([records[3].finished, records[3].aborted], [0, 1]);
  });
});
