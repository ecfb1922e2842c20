/**
 * `zerocopy doctor` (issue 12), run as a user runs it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { getNative } from '../../src/native/capabilities.js';
import { killAll, runCli } from './harness.js';

const native = getNative();

describe('zerocopy doctor', () => {
  after(killAll);

  it('prints one line per check and exits 0', async () => {
    const run = await runCli(['doctor']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^zerocopy \S+ on linux /);
    assert.match(run.stdout, /\n(ok|unavailable)\s+sendfile\(2\)/);
    assert.match(run.stdout, /RLIMIT_MEMLOCK/);
    assert.match(run.stdout, /interface lo/);
  });

  it('--json prints the report as documented', async () => {
    const run = await runCli(['doctor', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.schema, 1);
    assert.ok(Array.isArray(report.checks) && report.checks.length > 10);
    assert.ok(Array.isArray(report.interfaces));
  });

  it('--require exits 1 naming what is missing, 0 when all are usable', { skip: native ? false : 'no addon' }, async () => {
    const report = JSON.parse((await runCli(['doctor', '--json'])).stdout) as { checks: { id: string; status: string }[] };
    const missing = report.checks.find((c) => c.status === 'unavailable');
    const ok = await runCli(['doctor', '--require', 'sendfile,splice']);
    assert.equal(ok.code, 0, ok.stderr);
    if (missing) {
      const failed = await runCli(['doctor', '--require', `sendfile,${missing.id}`]);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, new RegExp(`required but not usable here: ${missing.id}\\n`));
    }
  });

  it('--require with an unknown name is a usage error (2)', async () => {
    const run = await runCli(['doctor', '--require', 'sendfil']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /no check named 'sendfil'/);
  });

  it('works without the addon (ZEROCOPY_NATIVE=0)', async () => {
    const run = await runCli(['doctor', '--json'], { env: { ...process.env, ZEROCOPY_NATIVE: '0' } });
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.native.loaded, false);
    assert.match(report.native.reason, /ZEROCOPY_NATIVE=0/);
  });

  it('is listed in zerocopy --help', async () => {
    const run = await runCli(['--help']);
    assert.match(run.stdout, /doctor\s+report which zero-copy paths/);
  });
});
