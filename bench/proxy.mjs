// TCP relay benchmark (issue 4): a multi-GB stream through no proxy,
// zerocopy proxy, HAProxy (splice-auto), a Node a.pipe(b) proxy and socat,
// in the same run.
//
//   node bench/proxy.mjs [--quick] [--runs 5] [--bytes 4g] ...
//   node bench/proxy.mjs --help
//
// Writes bench/results/<out>.md, <out>-*.svg and <out>.json (every run, from
// which --report-only can redraw the report).

import { compileClient } from './lib/compile.mjs';
import { describeEnvironment } from './lib/environment.mjs';
import { formatSize, parseSize } from './lib/fixtures.mjs';
import { list, onOff, positiveInteger, readOptions } from './lib/options.mjs';
import { measureProxyRun, traceProxySyscalls } from './lib/proxy-measure.mjs';
import { buildProxyReport, deriveProxyMetrics } from './lib/proxy-report.mjs';
import { BYTES_PER_GB, formatNumber, readRawJson, writeRawJson, writeResults } from './lib/report.mjs';
import { canCountSyscalls, formatSyscalls } from './lib/syscalls.mjs';
import { PROXIES } from './peers/proxies.mjs';
import { projectBuildFact, splitArgs } from './peers/zerocopy.mjs';

const options = readOptions(
  {
    runs: { env: 'BENCH_RUNS', default: 5, quick: 1, parse: positiveInteger, help: 'measured runs per relay' },
    bytes: { env: 'BENCH_BYTES', default: 4 * 2 ** 30, quick: 256 << 20, parse: parseSize, help: 'bytes per timed stream (e.g. 4g)' },
    'warmup-bytes': { env: 'BENCH_WARMUP_BYTES', default: 256 << 20, quick: 32 << 20, parse: parseSize, help: 'bytes of the verified warm-up stream' },
    proxies: { env: 'BENCH_PROXIES', default: PROXIES.filter((p) => p.byDefault).map((p) => p.id), parse: list, help: `relays, from: ${PROXIES.map((p) => p.id).join(', ')}` },
    'zerocopy-args': { env: 'BENCH_ZEROCOPY_ARGS', default: [], parse: splitArgs, help: 'extra flags for zerocopy proxy' },
    syscalls: { env: 'BENCH_SYSCALLS', default: true, parse: onOff, help: 'on|off: extra untimed pass counting relay syscalls with strace -f -c (1 GiB stream)' },
    out: { env: 'BENCH_OUT', default: 'proxy', quick: 'proxy-quick', help: 'results name: bench/results/<out>.md' },
    'report-only': { type: 'boolean', help: 'rewrite <out>.md and charts from <out>.json without measuring' },
  },
  { usage: 'usage: node bench/proxy.mjs [options]\nTCP relay benchmark: the project against its peers (see bench/README.md).' },
);

const log = (line) => console.log(line);
const started = Date.now();
const run = options['report-only'] ? readRawJson(options.out) : await measure();
const proxies = PROXIES.filter((p) => run.proxyIds.includes(p.id));
const unavailable = new Map(Object.entries(run.unavailable));
const title = `TCP relay benchmark${run.quick ? ' (quick smoke run)' : ''}`;
const report = buildProxyReport({ ...run, proxies, unavailable, title });
const written = writeResults(run.settings.name, report.markdown, report.charts);
if (!options['report-only']) written.push(writeRawJson(run.settings.name, run));
log(`\n${report.peerOnly ? 'peer-only results' : 'results'} (${formatSize(run.settings.bytes)} per stream) in ${Math.round((Date.now() - started) / 1000)} s:`);
for (const file of written) log(`  ${file}`);

/** Runs every measurement; resolves what the report and <out>.json need. */
async function measure() {
  const unknown = options.proxies.filter((id) => !PROXIES.some((p) => p.id === id));
  if (unknown.length) {
    console.error(`unknown relay(s): ${unknown.join(', ')}; known: ${PROXIES.map((p) => p.id).join(', ')}`);
    process.exit(2);
  }
  const proxies = PROXIES.filter((p) => options.proxies.includes(p.id));
  const settings = { name: options.out, runs: options.runs, bytes: options.bytes, warmupBytes: options['warmup-bytes'] };
  compileClient('tcpstream');

  const unavailable = new Map();
  for (const proxy of proxies) {
    const reason = proxy.unavailableReason();
    if (reason) {
      unavailable.set(proxy.id, reason);
      log(`${proxy.label}: not available (${reason})`);
    }
  }
  const environment = [
    ...describeEnvironment([
      ['HAProxy', 'haproxy', ['-v']],
      ['socat', 'socat', ['-V']],
      ['C compiler', process.env.CC || 'cc', ['--version']],
    ]),
    projectBuildFact(),
  ];

  const records = [];
  for (let run = 1; run <= settings.runs; run++) {
    const active = proxies.filter((p) => !unavailable.has(p.id));
    // Rotate the order each run so no relay always goes first while the
    // shared machine's background load drifts.
    const order = active.map((_, i) => active[(i + run - 1) % active.length]);
    for (const proxy of order) {
      const record = await measureProxyRun({ proxy, run, bytes: settings.bytes, warmupBytes: settings.warmupBytes, zerocopyArgs: options['zerocopy-args'] });
      records.push(record);
      if (record.outcome === 'not-started') unavailable.set(proxy.id, record.reason);
      log(`run ${run}/${settings.runs}  ${proxy.label.padEnd(24)} ${describe(record)}`);
    }
  }

  // Untimed: strace slows the traced relay several-fold.
  const syscallRecords = [];
  const traceBytes = Math.min(settings.bytes, 1 << 30);
  if (options.syscalls && !canCountSyscalls()) log('strace is not installed: skipping syscall counts');
  if (options.syscalls && canCountSyscalls()) {
    for (const proxy of proxies.filter((p) => p.command && !unavailable.has(p.id))) {
      const record = await traceProxySyscalls({ proxy, bytes: traceBytes, zerocopyArgs: options['zerocopy-args'] });
      syscallRecords.push(record);
      const detail = record.outcome === 'ok' ? `per GB: ${formatSyscalls(record.syscalls, record.bytes / BYTES_PER_GB, 4)}` : `${record.outcome}: ${record.reason}`;
      log(`strace   ${proxy.label.padEnd(24)} ${detail}`);
    }
  }
  return { quick: options.quick, settings, environment, proxyIds: proxies.map((p) => p.id), unavailable: Object.fromEntries(unavailable), records, syscallRecords };
}

function describe(record) {
  if (record.outcome !== 'ok') return `${record.outcome}: ${record.reason}`;
  const d = deriveProxyMetrics(record);
  const cpu = d.cpuPerGb == null ? '' : `  ${formatNumber(d.cpuPerGb)} CPU-s/GB (user ${formatNumber(d.cpuUserPerGb)}, sys ${formatNumber(d.cpuSysPerGb)})`;
  return `${formatNumber(d.gbPerSec)} GB/s${cpu}`;
}
