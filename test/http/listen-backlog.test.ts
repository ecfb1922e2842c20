/**
 * The static server and the proxy listen with a backlog as long as the
 * kernel allows (listen-backlog.ts), not Node's 511: `ss` shows a listening
 * socket's backlog as its Send-Q.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { createProxy } from '../../src/proxy/index.js';
import { createStaticServer } from '../../src/http/faces/server.js';
import { makeTempDir } from '../helpers/fixtures.js';

const hasSs = spawnSync('ss', ['-V']).status === 0;

/** The backlog of the socket listening on 127.0.0.1:port, as `ss -ltn` reports it. */
function listenBacklog(port: number): number {
  const out = spawnSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).stdout.trim();
  return Number(out.split(/\s+/)[2]);
}

/** What the kernel grants for a backlog of `asked`: at most net.core.somaxconn. */
function granted(asked: number): number {
  const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  return Math.min(asked, somaxconn);
}

describe('listen backlog', { skip: hasSs ? false : 'ss (iproute2) is not installed' }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(() => {
    tmp = makeTempDir();
  });
  after(() => tmp.remove());

  it('createStaticServer listens with the largest backlog the kernel allows, or the one given', async () => {
    for (const [backlog, expected] of [[undefined, granted(65_535)], [100, granted(100)]] as const) {
      const server = createStaticServer({ root: tmp.dir, ...(backlog ? { backlog } : {}) });
      const { port } = await server.listen(0, '127.0.0.1');
      try {
        assert.equal(listenBacklog(port), expected);
      } finally {
        await server.close();
      }
    }
  });

  it('createStaticServer refuses a backlog that is not a non-negative integer, at once', () => {
    assert.throws(() => createStaticServer({ root: tmp.dir, backlog: 'many' as unknown as number }), { code: 'ZC_ERR_INVALID_ARG' });
    assert.throws(() => createStaticServer({ root: tmp.dir, backlog: -1 }), { code: 'ZC_ERR_OUT_OF_RANGE' });
  });

  it('the proxy does too', async () => {
    const proxy = createProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: '127.0.0.1:9', onLog: () => {} });
    const { port } = await proxy.listen();
    try {
      assert.equal(listenBacklog(port), granted(65_535));
    } finally {
      await proxy.close();
    }
  });
});
