// Self-checks of the harness's pure parts (parsers, statistics, formatting).
// Run with: node --test bench/test/
// Not part of the root `npm test`, which covers the library.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSize, parseSize, sizeName } from '../lib/fixtures.mjs';
import { formatNumber, markdownTable, median, medianWithSplit, ratio } from '../lib/report.mjs';
import { renderBarChart } from '../lib/svg-chart.mjs';
import { parseStraceSummary } from '../lib/syscalls.mjs';
import { parseWrkReport } from '../lib/wrk.mjs';
import { splitArgs } from '../peers/zerocopy.mjs';

describe('parseWrkReport', () => {
  it('reads requests, duration, latency percentiles and every kind of error', () => {
    const report = `Running 6s test @ http://127.0.0.1:40000/4k.bin
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   465.64us  101.84us   5.05ms   93.00%
    Req/Sec    68.97k     2.43k   72.43k    76.67%
  Latency Distribution
     50%  450.00us
     75%  478.00us
     90%  520.00us
     99%    1.02ms
  411897 requests in 6.00s, 1.68GB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:  68642.44
Transfer/sec:    287.48MB
`;
    assert.deepEqual(parseWrkReport(report), {
      requests: 411897, seconds: 6, errors: 15, errorKinds: { connect: 1, read: 2, write: 3, timeout: 4, status: 5 }, latencyMs: { p50: 0.45, p99: 1.02 },
    });
  });

  it('rejects output without a request count', () => {
    assert.throws(() => parseWrkReport('unable to connect to 127.0.0.1:1 Connection refused'), /cannot parse wrk output/);
  });
});

describe('parseStraceSummary', () => {
  it('returns syscalls by call count, with and without an errors column, without the total', () => {
    const text = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 38.34    0.628871          21     29791           sendto
 26.35    0.432156          14     29793         1 recvfrom
  4.00    0.065631           8      8148           clock_gettime
------ ----------- ----------- --------- --------- ----------------
100.00    1.640335          18     67732         1 total
`;
    assert.deepEqual(parseStraceSummary(text), [
      { syscall: 'recvfrom', calls: 29793, errors: 1 },
      { syscall: 'sendto', calls: 29791, errors: 0 },
      { syscall: 'clock_gettime', calls: 8148, errors: 0 },
    ]);
  });
});

describe('sizes', () => {
  it('parses binary units and names fixtures after them', () => {
    assert.equal(parseSize('4k'), 4096);
    assert.equal(parseSize('64MiB'), 64 * 2 ** 20);
    assert.equal(parseSize('4g'), 4 * 2 ** 30); // not 4 << 30, which is 0 in JS
    assert.equal(formatSize(2 ** 30), '1 GiB');
    assert.equal(sizeName(2 ** 20), '1m');
  });

  it('rejects zero and garbage', () => {
    assert.throws(() => parseSize('0'));
    assert.throws(() => parseSize('lots'));
  });
});

describe('statistics', () => {
  it('takes the median of finite values only', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([null, NaN]), null);
  });

  it('splits the median total into parts that add up to it', () => {
    const runs = [
      { total: 1.0, user: 0.25, sys: 0.75 },
      { total: 3.0, user: 1.0, sys: 2.0 },
      { total: 2.0, user: 0.5, sys: 1.5 },
      { total: 4.0, user: 1.0, sys: 3.0 },
    ];
    const { total, parts } = medianWithSplit(runs, (r) => r.total, ['user', 'sys']);
    assert.equal(total, 2.5);
    assert.equal(parts.user + parts.sys, total);
  });

  it('gives no ratio for a missing or zero denominator', () => {
    assert.equal(ratio(1, 0), null);
    assert.equal(ratio(null, 2), null);
    assert.equal(ratio(3, 2), 1.5);
  });
});

describe('formatting', () => {
  it('keeps three significant digits and groups thousands', () => {
    assert.equal(formatNumber(28811.4), '28,811');
    assert.equal(formatNumber(1.23456), '1.23');
    assert.equal(formatNumber(0.012345), '0.0123');
    assert.equal(formatNumber(null), '–');
  });

  it('escapes pipes in Markdown cells', () => {
    assert.equal(markdownTable([{ title: 'a' }, { title: 'b', align: 'right' }], [['x|y', '1']]), '| a | b |\n| :--- | ---: |\n| x\\|y | 1 |');
  });

  it('escapes text in SVG and shows missing bars as text', () => {
    const svg = renderBarChart({ title: 'a < b & c', panels: [{ title: '4 KiB', unit: 'req/s', bars: [{ label: 'x', value: 2 }, { label: 'y', value: null, missing: 'not available' }] }] });
    assert.match(svg, /a &lt; b &amp; c/);
    assert.match(svg, /not available/);
    assert.doesNotMatch(svg, /NaN|undefined/);
  });

  it('splits extra CLI flags like a shell would for simple quoting', () => {
    assert.deepEqual(splitArgs('--workers 2 --root "a b"'), ['--workers', '2', '--root', 'a b']);
  });
});
