/**
 * `zerocopy log serve` in a child process (optionally under a wrapper such
 * as strace), started on a directory and waited for (bounded); killed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { withTimeout } from '../../helpers/process.js';

export const CLI = fileURLToPath(new URL('../../../../bin/zerocopy.js', import.meta.url));

export interface ChildBroker {
  child: ChildProcess;
  port: number;
  /** The broker's own pid (not a wrapper's). */
  pid: number;
  output(): string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
const brokerPids = new Set<number>();

/** Kills (SIGKILL, by PID) every broker and wrapper a test left running. */
export function killLeftoverBrokers(): void {
  for (const pid of brokerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const child of live) child.kill('SIGKILL');
}

export async function startChildBroker(dir: string, args: string[] = [], wrapper: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ChildBroker> {
  const command = [...wrapper, process.execPath, CLI, 'log', 'serve', dir, '--listen', '127.0.0.1:0', '--json', ...args];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  void exit.then(() => live.delete(child));
  const [port, pid] = await withTimeout(new Promise<[number, number]>((resolve, reject) => {
    const check = () => {
      const match = /"event":"listening","address":"127\.0\.0\.1:(\d+)".*"pid":(\d+)/.exec(out);
      if (match) resolve([Number(match[1]), Number(match[2])]);
    };
    child.stdout!.on('data', check);
    void exit.then(([code, signal]) => reject(new Error(`broker exited (${code ?? signal}) before listening: ${out}`)));
  }), 15000, 'the child broker to listen');
  brokerPids.add(pid);
  void exit.then(() => brokerPids.delete(pid));
  return {
    child,
    port,
    pid,
    output: () => out,
    exit,
    // The broker itself gets the signal: a wrapper (strace) exits with it.
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
      await withTimeout(exit, 10000, `the child broker to exit on ${signal}`);
    },
  };
}
