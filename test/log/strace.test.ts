/**
 * Proof from outside the process that fetch bodies leave with sendfile(2):
 * the broker runs under `strace -f -e trace=sendfile -yy`, which names each
 * call's fds (a TCP socket out, a segment file in) and its byte count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { ApiKey } from '../../src/log/protocol/api-keys.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { killLeftoverBrokers, startChildBroker } from './helpers/child-broker.js';
import { buildBatch } from './helpers/record-batches.js';
import { fetchBody, produceBody, readFetchV11, readProduceV8, WireClient } from './helpers/wire-client.js';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

describe('fetch bodies under strace', { skip: hasStrace ? false : 'strace is not installed (apt-get install -y strace)' }, () => {
  const tmp = makeTempDir('zerocopy-log-strace-');
  after(() => {
    killLeftoverBrokers();
    tmp.remove();
  });

  it('leave by sendfile(2) from the segment file to the client\'s TCP socket', async () => {
    const trace = path.join(tmp.dir, 'strace.log');
    const dir = path.join(tmp.dir, 'log');
    const broker = await startChildBroker(dir, ['--fsync', 'never'], ['strace', '-f', '-yy', '-e', 'trace=sendfile', '-o', trace]);
    const client = await WireClient.connect(broker.port);
    let fetched: Buffer;
    try {
      await client.request(ApiKey.Metadata, 4, (w) => w.int32(1).string('traced').bool(true));
      for (let i = 0; i < 4; i++) {
        const produced = readProduceV8(await client.request(ApiKey.Produce, 8, produceBody('traced', 0, buildBatch([{ value: Buffer.alloc(512 * 1024, i) }]))));
        assert.equal(produced.errorCode, 0);
      }
      fetched = readFetchV11(await client.request(ApiKey.Fetch, 11, fetchBody('traced', 0, 0, { partitionMaxBytes: 8 << 20 }))).records;
    } finally {
      client.close();
      await broker.kill('SIGTERM');
    }
    assert.ok(fetched.length > 2 << 20);
    const calls = fs.readFileSync(trace, 'utf8').split('\n').filter((line) => line.includes('sendfile('));
    const fromSegments = calls.filter((line) => /sendfile\(\d+<TCP:\[[^\]]*\]>, \d+<[^>]*traced-0\/\d{20}\.log>/.test(line));
    const bytes = fromSegments.reduce((n, line) => n + Number(/= (\d+)/.exec(line)?.[1] ?? 0), 0);
    assert.ok(fromSegments.length > 0, `sendfile calls seen:\n${calls.slice(0, 5).join('\n')}`);
    assert.ok(bytes >= fetched.length, `sendfile moved ${bytes} bytes from the segment to the socket; the fetch returned ${fetched.length}`);
  });
});
