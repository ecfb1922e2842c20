/**
 * `serve` and `proxy` warn at startup when the open-file limit is low
 * (file-limit.ts) and report it in their JSON startup line. (Node itself
 * raises the soft limit to the hard one, so only the hard limit counts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { makeTempDir } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';
import { CLI, killAll } from './harness.js';

/** This process's hard open-file limit (a test may only lower it). */
function hostHardLimit(): number {
  const { hard } = openFileLimits(process.pid);
  return Number.isFinite(hard) ? hard : Infinity;
}

/** The soft and hard "Max open files" of a running process. */
function openFileLimits(pid: number): { soft: number; hard: number } {
  const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/).map(Number);
  return { soft: soft!, hard: hard! };
}

/**
 * Starts `zerocopy ...args` under `ulimit -Sn soft; ulimit -Hn hard`, waits
 * (bounded) until stdout says it listens, and returns what it said and its
 * limits; the process is stopped before returning.
 */
async function startUnder(soft: number, hard: number, args: string[]) {
  const child = spawn('bash', ['-c', `ulimit -Sn ${soft} && ulimit -Hn ${hard} && exec "$0" "$@"`, process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exit = once(child, 'exit');
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => {
        if (/listening|Serving/.test(stdout)) setTimeout(resolve, 100); // the warning follows the line
      });
      void exit.then(([code]) => reject(new Error(`exited ${code}: ${stderr}`)));
    }), 10000, `zerocopy ${args.join(' ')} listening`);
    return { stdout, stderr: () => stderr, limits: openFileLimits(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await withTimeout(exit, 10000, 'exit after SIGTERM');
  }
}

describe('open-file limit of the long-running commands', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(() => {
    tmp = makeTempDir();
  });
  after(() => {
    killAll();
    tmp.remove();
  });

  it('serve says nothing when the limit is high enough', async (t) => {
    if (hostHardLimit() < 8192) return t.skip(`this host's hard open-file limit is ${hostHardLimit()}`);
    const started = await startUnder(256, 8192, ['serve', tmp.dir, '--port', '0']);
    assert.equal(started.limits.soft, 8192, 'Node raised the soft limit to the hard one');
    assert.doesNotMatch(started.stderr(), /open-file limit/);
  });

  it('serve warns, once, when even the hard limit is low, naming the limit and what it allows', async (t) => {
    if (hostHardLimit() < 1000) return t.skip(`this host's hard open-file limit is ${hostHardLimit()}`);
    const started = await startUnder(256, 1000, ['serve', tmp.dir, '--port', '0']);
    assert.equal(started.limits.soft, 1000);
    assert.match(started.stderr(), /open-file limit is 1000 \(hard limit 1000\); at 3 fds each, about 333 responses in flight at once/);
    assert.equal(started.stderr().match(/open-file limit/g)?.length, 1);
  });

  it('proxy warns too and reports the limit in its JSON startup line', async (t) => {
    if (hostHardLimit() < 3000) return t.skip(`this host's hard open-file limit is ${hostHardLimit()}`);
    const started = await startUnder(256, 3000, ['proxy', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:9', '--json']);
    assert.deepEqual(started.limits, { soft: 3000, hard: 3000 });
    const listening = JSON.parse(started.stdout.split('\n').find((l) => l.includes('"listening"'))!);
    assert.equal(listening.openFileLimit, 3000);
    assert.match(started.stderr(), /about 300 connections at once/);
  });
});
