/**
 * `zerocopy serve` on a terminal: the access log is on by default there,
 * in colour unless NO_COLOR is set, and `--quiet` silences it. A real
 * pseudo-terminal comes from util-linux script(1); the tests skip without it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeTempDir } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';
import { childPids, CLI } from './harness.js';
import { get } from '../http/static-helpers.js';

function hasScript(): boolean {
  return spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `zerocopy serve ...args` on a pseudo-terminal, requests `paths`, then
 * stops it with SIGTERM; resolves with everything the terminal showed.
 */
async function serveOnTerminal(args: string[], paths: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const command = ['exec', process.execPath, CLI, 'serve', ...args].map(shellQuote).join(' ');
  const script = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let screen = '';
  script.stdout.on('data', (chunk: Buffer) => (screen += chunk));
  const exited = once(script, 'exit');
  try {
    const url = await withTimeout(new Promise<string>((resolve, reject) => {
      script.stdout.on('data', () => {
        // Strip colours before looking for the URL.
        const match = /http:\/\/[\d.]+:\d+\//.exec(screen.replace(/\x1b\[[\d;]*m/g, ''));
        if (match) resolve(match[0]);
      });
      void exited.then(() => reject(new Error(`script exited: ${screen}`)));
    }), 10000, 'serve on a terminal');
    for (const target of paths) await get(`${url}${target}`);
    // The access log flushes every 200 ms; the graceful stop flushes it too.
    const server = childPids(script.pid!)[0];
    assert.ok(server, 'the server runs under script');
    process.kill(server, 'SIGTERM');
    await withTimeout(exited, 10000, 'serve exits');
    return screen;
  } finally {
    if (script.exitCode === null) script.kill('SIGKILL');
  }
}

describe('zerocopy serve on a terminal', { skip: hasScript() ? false : 'needs script(1) (util-linux) for a pseudo-terminal' }, () => {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'site');
  const env = { ...process.env };
  delete env.NO_COLOR;
  before(() => {
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'hello.txt'), 'hello\n');
  });
  after(() => tmp.remove());

  it('logs every request by default, the status in colour', async () => {
    const screen = await serveOnTerminal([root, '-l', '0'], ['hello.txt', 'missing'], env);
    assert.match(screen, /\x1b\[36;4mhttp:\/\/127\.0\.0\.1:\d+\/\x1b\[0m/, 'the URL stands out');
    assert.match(screen, /"GET \/hello\.txt HTTP\/1\.1" \x1b\[32m200\x1b\[0m 6 memory/);
    assert.match(screen, /"GET \/missing HTTP\/1\.1" \x1b\[33m404\x1b\[0m/);
  });

  it('never colours with NO_COLOR set', async () => {
    const screen = await serveOnTerminal([root, '-l', '0'], ['hello.txt'], { ...env, NO_COLOR: '1' });
    assert.match(screen, /"GET \/hello\.txt HTTP\/1\.1" 200 6 memory/);
    assert.doesNotMatch(screen, /\x1b\[/);
  });

  it('--quiet silences the log', async () => {
    const screen = await serveOnTerminal([root, '-l', '0', '--quiet'], ['hello.txt'], env);
    assert.match(screen, /Serving /);
    assert.doesNotMatch(screen, /GET \/hello\.txt/);
  });
});
