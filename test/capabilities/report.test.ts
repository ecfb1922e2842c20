/**
 * The capability report behind `zerocopy doctor` (issue 12): its findings are
 * checked against what the host says independently (/proc, the kernel
 * config, a real transfer), with and without the addon, and as an
 * unprivileged user.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';

import { capabilityReport, formatCapabilityReport, sendFile, summarizeCapabilities, type CapabilityReport } from '../../src/index.js';
import { readKernelConfig } from '../../src/capabilities/host.js';
import { getNative, setNativeForTesting } from '../../src/native/capabilities.js';
import { makeRandomFile, makeTempDir } from '../helpers/fixtures.js';
import { collect, connectPair } from '../helpers/net.js';
import { runAsNobody } from '../helpers/unprivileged.js';

const native = getNative();
const STATUSES = ['ok', 'limited', 'unavailable', 'unknown'];
const doc = fs.readFileSync(new URL('../../../docs/doctor.md', import.meta.url), 'utf8');

function byId(report: CapabilityReport) {
  return new Map(report.checks.map((c) => [c.id, c]));
}

function assertWellFormed(report: CapabilityReport): void {
  assert.equal(report.schema, 1);
  assert.ok(!Number.isNaN(Date.parse(report.generatedAt)));
  const ids = report.checks.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const c of report.checks) {
    assert.ok(STATUSES.includes(c.status), `${c.id}: status ${c.status}`);
    assert.match(c.id, /^[a-z0-9_]+$/);
    if (c.status === 'unavailable' || c.status === 'unknown') assert.ok(c.reason, `${c.id} says why it is ${c.status}`);
  }
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(report)));
}

function readInt(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

describe('capabilityReport', () => {
  describe('with the addon', { skip: native ? false : 'no addon' }, () => {
    it('finds the paths the transfers really take on this host', async () => {
      const report = await capabilityReport();
      assertWellFormed(report);
      const c = byId(report);
      assert.equal(report.native.loaded, true);
      for (const id of ['native', 'sendfile', 'splice', 'tee', 'copy_file_range']) assert.equal(c.get(id)?.status, 'ok', id);
      // And the transfer agrees: sendfile really is the path a file takes.
      const tmp = makeTempDir();
      const pair = await connectPair();
      try {
        const file = makeRandomFile(tmp.dir, 'f', 100000);
        const received = collect(pair.client);
        const result = await sendFile(pair.server, file.path);
        pair.server.end();
        assert.equal(result.method, 'sendfile');
        assert.equal((await received).sha256, file.sha256);
      } finally {
        pair.close();
        tmp.remove();
      }
    });

    it('reads the limits as /proc states them', async () => {
      const c = byId(await capabilityReport());
      assert.equal(c.get('pipe_max_size')?.value, `${readInt('/proc/sys/fs/pipe-max-size') / (1 << 20)} MiB`);
      assert.match(c.get('optmem_max')?.value ?? '', new RegExp(`^${readInt('/proc/sys/net/core/optmem_max') / 1024} KiB$`));
      const nofile = /Max open files\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1];
      assert.match(c.get('rlimit_nofile')?.value ?? '', new RegExp(`^${nofile} `));
    });

    it('reports kTLS as the kernel configuration implies', async () => {
      const ktls = byId(await capabilityReport()).get('ktls')!;
      const config = readKernelConfig('CONFIG_TLS');
      if (config === 'n') {
        assert.equal(ktls.status, 'unavailable');
        assert.equal(ktls.errno, 'ENOENT');
        assert.match(ktls.reason!, /CONFIG_TLS is not set/);
        assert.match(ktls.impact!, /HTTPS/);
      } else if (config === 'y') {
        assert.equal(ktls.status, 'ok');
      }
    });

    it('sees the loopback interface and says it copies', async () => {
      const report = await capabilityReport();
      const lo = report.interfaces.find((i) => i.loopback);
      assert.ok(lo, 'a loopback interface');
      assert.equal(lo.scatterGather, true, 'lo does scatter-gather');
      assert.match(lo.reason!, /loopback/);
    });

    it('summarizes in one line for a startup log', async () => {
      const line = summarizeCapabilities(await capabilityReport());
      assert.doesNotMatch(line, /\n/);
      assert.match(line, /^zero-copy: sendfile, splice/);
    });
  });

  describe('without the addon', () => {
    it('still reports what /proc can tell, and "unknown" with the reason for the rest', async () => {
      const restore = setNativeForTesting(null);
      try {
        const report = await capabilityReport();
        assertWellFormed(report);
        const c = byId(report);
        assert.equal(report.native.loaded, false);
        assert.equal(c.get('native')?.status, 'unavailable');
        for (const id of ['sendfile', 'splice', 'msg_zerocopy_tcp', 'openat2_resolve_beneath', 'cachestat', 'pipe_size']) {
          assert.equal(c.get(id)?.status, 'unknown', id);
          assert.match(c.get(id)!.reason!, /addon/, id);
        }
        assert.equal(c.get('pipe_max_size')?.status, 'ok');
        assert.match(summarizeCapabilities(report), /^zero-copy: off/);
        assert.match(formatCapabilityReport(report), /unknown\s+sendfile/);
      } finally {
        restore();
      }
    });

    it('has the same check ids either way, each documented in docs/doctor.md', async () => {
      const restore = setNativeForTesting(null);
      let without: CapabilityReport;
      try {
        without = await capabilityReport();
      } finally {
        restore();
      }
      const ids = without.checks.map((c) => c.id);
      if (native) assert.deepEqual((await capabilityReport()).checks.map((c) => c.id), ids);
      for (const id of ids) assert.match(doc, new RegExp('`' + id + '`'), `${id} is documented`);
    });
  });

  describe('as an unprivileged user (nobody)', { skip: native ? false : 'no addon' }, () => {
    it('needs no privilege, and reports the small pipes a user past fs.pipe-user-pages-soft gets', (t) => {
      const outcome = runAsNobody('doctor-child', { timeoutMs: 60000 });
      if ('skipped' in outcome) {
        t.skip(outcome.skipped);
        return;
      }
      assert.equal(outcome.ran.status, 0, outcome.ran.stderr);
      const { plain, crowded, witnessCapacity } = JSON.parse(outcome.ran.stdout) as {
        plain: CapabilityReport;
        crowded: CapabilityReport;
        witnessCapacity: number;
      };
      assertWellFormed(plain);
      assert.equal(plain.host.uid, 65534);
      assert.equal(plain.host.ipcLock, false);
      assert.equal(byId(plain).get('sendfile')?.status, 'ok');
      assert.equal(byId(plain).get('pipe_size')?.status, 'ok');
      const pipe = byId(crowded).get('pipe_size')!;
      assert.equal(pipe.status, 'limited', JSON.stringify(pipe));
      // Near the limit F_SETPIPE_SZ is refused and a pipe keeps 64 KiB; past
      // it, new pipes start at 2 pages (8 KiB). Either way: what a pipe gets.
      assert.ok(witnessCapacity < 1 << 20);
      assert.equal(pipe.value, `${witnessCapacity / 1024} KiB (asked 1 MiB)`);
      assert.match(pipe.reason!, /pipe-user-pages-soft/);
    });
  });
});
