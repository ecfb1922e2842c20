/**
 * Runs the real CLI (bin/zerocopy.js) in child processes for the CLI tests.
 * Every wait is bounded; `killAll()` (call it in `after`) SIGKILLs by PID any
 * child a failed test left running.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

import { withTimeout } from '../helpers/process.js';

/** The CLI entry, as a user runs it. */
export const CLI = fileURLToPath(new URL('../../../bin/zerocopy.js', import.meta.url));

const children = new Set<ChildProcess>();

/** SIGKILLs every child still running (a test that failed half-way). */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, ms. */
  elapsedMs: number;
}

/** Runs `zerocopy ...args` to completion (bounded by `timeoutMs`). */
export async function runCli(args: string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Finished> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  try {
    const [code, signal] = await withTimeout(once(child, 'close'), options.timeoutMs ?? 20000, `zerocopy ${args.join(' ')}`);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr, elapsedMs: Date.now() - started };
  } finally {
    children.delete(child);
  }
}

export interface Served {
  child: ChildProcess;
  /** The first URL of the startup line. */
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
  /** SIGTERM, then the exit code (bounded). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `zerocopy serve ...args` and waits (bounded) for the first URL on stdout. */
export async function serve(args: string[], options: SpawnOptions = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk));
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  void exit.then(() => children.delete(child));
  const url = await withTimeout(new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /(https?:\/\/[^\s"]+\/)/.exec(out);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', check);
    void exit.then(([code]) => reject(new Error(`exited ${code}: ${err}`)));
  }), 10000, 'zerocopy serve listening');
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    exit,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      const [code] = await withTimeout(exit, 10000, `exit after ${signal}`);
      return code;
    },
  };
}

/** A port some other server holds on 127.0.0.1, for "already in use". */
export async function takePort(): Promise<{ port: number; release(): Promise<void> }> {
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  return {
    port: (blocker.address() as net.AddressInfo).port,
    release: () => new Promise((resolve) => blocker.close(() => resolve())),
  };
}

/** True when nothing listens on 127.0.0.1:port. */
export async function portIsFree(port: number): Promise<boolean> {
  const probe = net.createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** PIDs of a process's children (procfs). */
export function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** `text` as a RegExp that matches it literally. */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
