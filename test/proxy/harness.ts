/**
 * Loopback fixtures for the proxy tests: upstream servers of several kinds
 * (echo, scripted, refusing, never accepting), a proxy that records its log,
 * and a client. Everything binds 127.0.0.1 (or ::1) only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createProxy, type ProxyLogRecord, type ProxyOptions, type TcpProxy } from '../../src/index.js';
import type { ConnectionRecord } from '../../src/proxy/log.js';
import { withTimeout } from '../helpers/process.js';

export { pump } from '../helpers/net.js';

export const MIB = 1 << 20;

export interface Upstream {
  port: number;
  server: net.Server;
  /** Resolves the next connection the upstream accepts. */
  nextConnection(): Promise<net.Socket>;
  accepted: number;
  close(): Promise<void>;
}

/**
 * A loopback server. `onConnection` gets each accepted socket (half-open
 * allowed, so a FIN from the proxy does not end the upstream's side);
 * without it, sockets just wait for `nextConnection()` callers.
 */
export async function startUpstream(onConnection?: (socket: net.Socket) => void, host = '127.0.0.1'): Promise<Upstream> {
  const waiting: Array<(socket: net.Socket) => void> = [];
  const queued: net.Socket[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    upstream.accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection?.(socket);
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else if (!onConnection) queued.push(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const upstream: Upstream = {
    port: (server.address() as net.AddressInfo).port,
    server,
    accepted: 0,
    nextConnection: () => {
      const socket = queued.shift();
      return withTimeout(socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve)), 10000, 'upstream connection');
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return upstream;
}

/** An upstream that writes back what it reads and ends when its reader ends. */
export function startEchoUpstream(): Promise<Upstream> {
  return startUpstream((socket) => socket.pipe(socket));
}

/** A port on 127.0.0.1 where nothing listens: connecting gets ECONNREFUSED. */
export async function refusedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * An upstream that never answers a connect, without leaving loopback: a
 * listener with backlog 1 in a child process whose event loop is blocked, so
 * it never accept()s; once its accept queue is full, Linux drops further SYNs
 * (tcp_conn_request: "listen overflow") and connect() waits for the SYN
 * retries. `close()` kills the child (by PID) and drops the fillers.
 */
export async function startUnansweringUpstream(): Promise<{ port: number; close(): Promise<void> }> {
  const script = `
    const net = require('node:net');
    const server = net.createServer();
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(server.address().port + '\\n', () => {
        // Block this loop: nothing is accepted from now on. The wait is
        // bounded and the child then exits, should the test never kill it.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
        process.exit(0);
      });
    });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await withTimeout(once(child.stdout!, 'data'), 10000, 'unanswering upstream start')) as [Buffer];
  const port = Number(line.toString().trim());
  // Fill the accept queue: connects complete until it is full, then hang.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await Promise.race([
      once(socket, 'connect').then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
    ]);
    if (!connected) break;
  }
  return {
    port,
    close: async () => {
      for (const socket of fillers) socket.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

export interface StartedProxy {
  proxy: TcpProxy;
  port: number;
  records: ProxyLogRecord[];
  /** Resolves the next log record of `event` (one already logged and not yet taken counts). */
  nextRecord<E extends ProxyLogRecord['event']>(event: E, timeoutMs?: number): Promise<Extract<ProxyLogRecord, { event: E }>>;
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1:<free port> that keeps every log record. */
export async function startProxy(options: Omit<ProxyOptions, 'listen' | 'onLog'> & { listen?: ProxyOptions['listen'] }): Promise<StartedProxy> {
  const records: ProxyLogRecord[] = [];
  const taken = new Set<ProxyLogRecord>();
  const waiters: Array<{ event: string; resolve: (r: ProxyLogRecord) => void }> = [];
  const proxy = createProxy({
    listen: '127.0.0.1:0',
    ...options,
    onLog: (record) => {
      records.push(record);
      const index = waiters.findIndex((w) => w.event === record.event);
      if (index >= 0) {
        taken.add(record);
        waiters.splice(index, 1)[0]!.resolve(record);
      }
    },
  });
  const { port } = await proxy.listen();
  return {
    proxy,
    port,
    records,
    nextRecord: (event, timeoutMs = 10000) => {
      const ready = records.find((r) => r.event === event && !taken.has(r));
      if (ready) {
        taken.add(ready);
        return Promise.resolve(ready as never);
      }
      return withTimeout(new Promise((resolve) => waiters.push({ event, resolve: resolve as never })), timeoutMs, `a '${event}' log record`);
    },
    close: async () => {
      await proxy.close({ timeout: 0 });
    },
  };
}

/** A client connected through the proxy; half-open allowed so it can read after its own FIN. */
export async function connectClient(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const socket = net.connect({ port, host, allowHalfOpen: true });
  socket.on('error', () => {});
  await withTimeout(once(socket, 'connect'), 5000, 'client connect');
  return socket;
}

/**
 * Resolves when the other end closes `socket` (a FIN or a reset), with how
 * long that took in ms, then destroys it. It reads (and drops) what
 * arrives: Node only notices a FIN by reading.
 */
export function closedWithin(socket: net.Socket): Promise<number> {
  const started = Date.now();
  if (socket.destroyed || socket.readableEnded) {
    socket.destroy();
    return Promise.resolve(0);
  }
  socket.resume();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('end', done);
      socket.off('close', done);
      socket.destroy();
      resolve(Date.now() - started);
    };
    socket.once('end', done);
    socket.once('close', done);
  });
}


/** The connection record for a finished connection, narrowed. */
export function asConnection(record: ProxyLogRecord): ConnectionRecord {
  if (record.event !== 'connection') throw new Error(`expected a connection record, got ${record.event}`);
  return record;
}

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/zerocopy.js');

export interface ProxyProcess {
  child: ChildProcess;
  /** The port it printed as listening on. */
  port: number;
  /** Every stdout and stderr line so far. */
  stdout: string[];
  stderr: string[];
  /** Resolves the first line (already printed or still to come) on `stream` that matches. */
  waitForLine(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resident memory of the process now (VmRSS), in bytes. */
  rssBytes(): number;
  /** Resolves the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM (by PID), then SIGKILL after `graceMs`; resolves the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * `node bin/zerocopy.js proxy --listen 127.0.0.1:0 ...args` in a child
 * process, as a user runs it; resolves once it printed its address (with
 * `--json`, the 'listening' record; otherwise the text line).
 */
export async function spawnProxyCli(args: string[]): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [BIN, 'proxy', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const watchers: Array<{ stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (line: string) => void }> = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines[stream].push(line);
        for (const watcher of watchers.filter((w) => w.stream === stream && w.pattern.test(line))) {
          watchers.splice(watchers.indexOf(watcher), 1);
          watcher.resolve(line);
        }
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForLine = (stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 10000) => {
    const seen = lines[stream].find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return withTimeout(new Promise<string>((resolve) => watchers.push({ stream, pattern, resolve })), timeoutMs,
      `a line matching ${pattern} on ${stream} (stderr so far: ${lines.stderr.join(' | ')})`);
  };
  const listening = await Promise.race([
    waitForLine('stdout', /listening/),
    exited.then((code) => Promise.reject(new Error(`zerocopy proxy exited with ${code}: ${lines.stderr.join('\n')}`))),
  ]);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(listening)?.[1]);
  return {
    child,
    port,
    ...lines,
    waitForLine,
    exited,
    rssBytes: () => {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
    },
    stop: async (graceMs = 5000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
