import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, afterEach, before, describe, it } from 'node:test';

import { formatRecordText } from '../../src/index.js';
import { sharedPipePool } from '../../src/transfer/pipe-pool.js';
import { collect } from '../helpers/net.js';
import { assertNoFdLeak, openFdCount, withTimeout } from '../helpers/process.js';
import {
  asConnection,
  closedWithin,
  connectClient,
  refusedPort,
  startEchoUpstream,
  startProxy,
  startUnansweringUpstream,
  type Upstream,
} from './harness.js';

/** Asserts no fd leaked once idle pooled pipes (not leaks) are closed. */
async function assertNoLeakSince(baseline: number): Promise<void> {
  sharedPipePool().drain();
  await assertNoFdLeak(baseline);
}

function baselineFds(): number {
  sharedPipePool().drain();
  return openFdCount();
}

const CONNECT_TIMEOUT_MS = 300;
/** How long "promptly" may take on a shared 2-core machine: well under a human's notice. */
const PROMPT_MS = 1500;

describe('proxy upstream failures', () => {
  let echo: Upstream;
  let unanswering: { port: number; close(): Promise<void> };
  let refused: number;
  const cleanup: Array<() => unknown> = [];
  before(async () => {
    echo = await startEchoUpstream();
    unanswering = await startUnansweringUpstream();
    refused = await refusedPort();
  });
  after(async () => {
    await echo.close();
    await unanswering.close();
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function proxyTo(upstream: string) {
    const started = await startProxy({ upstream, connectTimeout: CONNECT_TIMEOUT_MS });
    cleanup.push(() => started.close());
    return started;
  }

  it('closes the client promptly when the upstream refuses, logs it, and leaks nothing', async () => {
    const started = await proxyTo(`127.0.0.1:${refused}`);
    const baseline = baselineFds();
    const client = await connectClient(started.port);
    client.write('hello?');
    const seen = collect(client);
    const ms = await withTimeout(closedWithin(client), 5000, 'client close');
    assert.ok(ms < PROMPT_MS, `closed after ${ms} ms`);
    assert.equal((await seen).bytes, 0, 'the client got nothing');
    const down = await started.nextRecord('upstreams-down');
    assert.deepEqual(down.tried, [`127.0.0.1:${refused} ECONNREFUSED`]);
    const record = asConnection(await started.nextRecord('connection'));
    assert.equal(record.outcome, 'no-upstream');
    assert.equal(record.upstream, null);
    assert.equal(record.method, null);
    assert.equal(started.proxy.connections, 0);
    await assertNoLeakSince(baseline);
  });

  it('closes the client soon after the connect timeout when the upstream never answers, and leaks nothing', async () => {
    const started = await proxyTo(`127.0.0.1:${unanswering.port}`);
    const baseline = baselineFds();
    const client = await connectClient(started.port);
    client.write('anyone?');
    const ms = await withTimeout(closedWithin(client), 5000, 'client close');
    assert.ok(ms >= CONNECT_TIMEOUT_MS - 50, `waited for the connect timeout (${ms} ms)`);
    assert.ok(ms < CONNECT_TIMEOUT_MS + PROMPT_MS, `closed ${ms} ms after connecting`);
    const down = await started.nextRecord('upstreams-down');
    assert.deepEqual(down.tried, [`127.0.0.1:${unanswering.port} ZC_ERR_CONNECT_TIMEOUT`]);
    assert.equal(asConnection(await started.nextRecord('connection')).outcome, 'no-upstream');
    await assertNoLeakSince(baseline);
  });

  it('fails over to the next upstream when the first refuses or times out, and says so', async () => {
    const started = await proxyTo(`127.0.0.1:${refused},127.0.0.1:${unanswering.port},127.0.0.1:${echo.port}`);
    const client = await connectClient(started.port);
    const answer = collect(client, { keep: true });
    client.end('ping');
    const got = await withTimeout(answer, 5000, 'echo');
    assert.equal(got.data!.toString(), 'ping');
    const record = asConnection(await started.nextRecord('connection'));
    assert.equal(record.upstream, `127.0.0.1:${echo.port}`);
    assert.deepEqual(record.failedUpstreams, [
      `127.0.0.1:${refused} ECONNREFUSED`,
      `127.0.0.1:${unanswering.port} ZC_ERR_CONNECT_TIMEOUT`,
    ]);
    assert.ok(record.connectMs! >= CONNECT_TIMEOUT_MS - 50, 'connect time includes the failed attempts');
    assert.equal(record.outcome, 'closed');
    assert.equal(started.records.filter((r) => r.event === 'upstreams-down').length, 0);
  });

  it('spreads connections round-robin over the upstreams', async () => {
    const second = await startEchoUpstream();
    cleanup.push(() => second.close());
    const started = await proxyTo(`127.0.0.1:${echo.port},127.0.0.1:${second.port}`);
    const used: string[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await connectClient(started.port);
      const answer = collect(client);
      client.end('x');
      await withTimeout(answer, 5000, 'echo');
      used.push(asConnection(await started.nextRecord('connection')).upstream!);
    }
    const a = `127.0.0.1:${echo.port}`;
    const b = `127.0.0.1:${second.port}`;
    assert.deepEqual(used, [a, b, a, b]);
  });

  it('tries a black-holed upstream last after one connect timeout, and again once failTimeout has passed', async () => {
    // The window is long and only its first half is used, so a slow
    // connection on a loaded machine cannot cross its end by accident.
    const failTimeout = 4000;
    const started = await startProxy({ upstream: `127.0.0.1:${unanswering.port},127.0.0.1:${echo.port}`, connectTimeout: CONNECT_TIMEOUT_MS, failTimeout });
    cleanup.push(() => started.close());
    const connectOnce = async () => {
      const client = await connectClient(started.port);
      const answer = collect(client);
      client.end('x');
      await withTimeout(answer, 5000, 'echo');
      return asConnection(await started.nextRecord('connection'));
    };
    const timedOut = [`127.0.0.1:${unanswering.port} ZC_ERR_CONNECT_TIMEOUT`];
    assert.deepEqual((await connectOnce()).failedUpstreams, timedOut, 'the first connection pays the timeout');
    // The failure was recorded before this point, so its window ends before demotedBy + failTimeout.
    const demotedBy = performance.now();
    const within: string[][] = [];
    while (within.length < 4 && performance.now() - demotedBy < failTimeout / 2) within.push((await connectOnce()).failedUpstreams);
    assert.ok(within.length >= 2, `only ${within.length} connections fitted in the window on this machine`);
    assert.deepEqual(within, within.map(() => []), 'inside the window every connection went straight to the live upstream');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, demotedBy + failTimeout + 100 - performance.now())));
    const later = [(await connectOnce()).failedUpstreams, (await connectOnce()).failedUpstreams];
    assert.ok(later.some((failed) => failed.length === 1), 'after the window the round-robin reaches the black hole again');
  });

  it('logs one clear line naming every upstream tried when all are down', async () => {
    const other = await refusedPort();
    const started = await proxyTo(`127.0.0.1:${refused},127.0.0.1:${other}`);
    const client = await connectClient(started.port);
    await withTimeout(closedWithin(client), 5000, 'client close');
    const down = await started.nextRecord('upstreams-down');
    const line = formatRecordText(down);
    assert.match(line, /upstreams-down/);
    assert.match(line, /all upstreams down/);
    assert.ok(line.includes(`127.0.0.1:${refused} ECONNREFUSED, 127.0.0.1:${other} ECONNREFUSED`), line);
    assert.ok(!line.includes('\n'), 'one line');
  });

  it('cuts a connection still dialing when the drain deadline passes', async () => {
    const started = await startProxy({ upstream: `127.0.0.1:${unanswering.port}`, connectTimeout: 10000 });
    const client = await connectClient(started.port);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(started.proxy.connections, 1);
    const drained = await withTimeout(started.proxy.close({ timeout: 100 }), 5000, 'close');
    assert.deepEqual(drained, { finished: 0, aborted: 1 });
    await withTimeout(closedWithin(client), 5000, 'client close');
    const record = asConnection(await started.nextRecord('connection'));
    assert.equal(record.outcome, 'drain-deadline');
  });
});
