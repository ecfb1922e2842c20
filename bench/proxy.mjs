// TCP relay benchmark (issue 4): a multi-GB stream through no proxy,
// zerocopy proxy, HAProxy (splice-auto), a Node a.pipe(b) proxy and socat,
// in the same run. With --rr (issue 16): request/response traffic instead,
// many small messages on long-lived connections (lib/proxy-rr.mjs).
//
//   node bench/proxy.mjs [--quick] [--runs 5] [--bytes 4g] ...
//   node bench/proxy.mjs --rr [--quick] [--rr-connections 1,50,500] ...
//   node bench/proxy.mjs --help
//
// Writes bench/results/<out>.md, <out>-*.svg and <out>.json (every run, from
// which --report-only can redraw the report).

import { compileClient } from './lib/compile.mjs';
import { describeEnvironment } from './lib/environment.mjs';
import { heavyLoadWarning, loadFact, startLoadMonitor } from './lib/load.mjs';
import { liveGroups } from './lib/proc.mjs';
import { formatSize, parseSize } from './lib/fixtures.mjs';
import { list, onOff, positiveInteger, readOptions } from './lib/options.mjs';
import { measureProxyRun, traceProxySyscalls } from './lib/proxy-measure.mjs';
import { buildProxyReport, deriveProxyMetrics } from './lib/proxy-report.mjs';
import { measureRrRun, scenarioLabel, traceRrSyscalls } from './lib/proxy-rr.mjs';
import { buildRrReport } from './lib/proxy-rr-report.mjs';
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
    out: { env: 'BENCH_OUT', help: 'results name: bench/results/<out>.md [default proxy, or proxy-rr with --rr; -quick appended for --quick]' },
    'report-only': { type: 'boolean', help: 'rewrite <out>.md and charts from <out>.json without measuring' },
    rr: { type: 'boolean', help: 'request/response mode (issue 16) instead of one bulk stream' },
    'rr-connections': { env: 'BENCH_RR_CONNECTIONS', default: [1, 50, 500], quick: [1, 50], parse: numbers, help: '--rr: concurrent connections per scenario' },
    'rr-sizes': { env: 'BENCH_RR_SIZES', default: [16, 4096, 65536], quick: [16, 65536], parse: numbers, help: '--rr: message sizes in bytes' },
    'rr-depths': { env: 'BENCH_RR_DEPTHS', default: [1, 16], quick: [1], parse: numbers, help: '--rr: requests in flight per connection (1 = ping-pong)' },
    'rr-seconds': { env: 'BENCH_RR_SECONDS', default: 3, quick: 1, parse: positiveInteger, help: '--rr: counted seconds per run' },
    'rr-warmup': { env: 'BENCH_RR_WARMUP', default: 1, quick: 1, parse: positiveInteger, help: '--rr: warm-up seconds per run' },
    'rr-runs': { env: 'BENCH_RR_RUNS', default: 3, quick: 1, parse: positiveInteger, help: '--rr: runs per relay and scenario' },
    'rr-proxies': { env: 'BENCH_RR_PROXIES', default: ['direct', 'zerocopy', 'haproxy-tcp', 'haproxy', 'node-pipe'], parse: list, help: '--rr: relays' },
  },
  { usage: 'usage: node bench/proxy.mjs [options]\nTCP relay benchmark: the project against its peers (see bench/README.md).' },
);

function numbers(text) {
  return list(text).map((item) => positiveInteger(item));
}

const log = (line) => console.log(line);
const started = Date.now();
options.out ??= `${options.rr ? 'proxy-rr' : 'proxy'}${options.quick ? '-quick' : ''}`;
if (options.rr) {
  await runRequestResponse();
  process.exit(0);
}
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

  const load = startLoadMonitor(liveGroups);
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

  const otherLoad = load.stop();
  environment.push(loadFact(otherLoad));
  if (otherLoad.heavy) log(heavyLoadWarning(otherLoad));

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
  return { quick: options.quick, settings, environment, otherLoad, proxyIds: proxies.map((p) => p.id), unavailable: Object.fromEntries(unavailable), records, syscallRecords };
}

function describe(record) {
  if (record.outcome !== 'ok') return `${record.outcome}: ${record.reason}`;
  const d = deriveProxyMetrics(record);
  const cpu = d.cpuPerGb == null ? '' : `  ${formatNumber(d.cpuPerGb)} CPU-s/GB (user ${formatNumber(d.cpuUserPerGb)}, sys ${formatNumber(d.cpuSysPerGb)})`;
  return `${formatNumber(d.gbPerSec)} GB/s${cpu}`;
}

/** --rr: every scenario through every relay, then the strace pass; writes the report. */
async function runRequestResponse() {
  const run = options['report-only'] ? readRawJson(options.out) : await measureRequestResponse();
  const proxies = PROXIES.filter((p) => run.proxyIds.includes(p.id));
  const report = buildRrReport({
    title: `TCP relay benchmark: request/response${run.quick ? ' (quick smoke run)' : ''}`,
    environment: run.environment,
    otherLoad: run.otherLoad,
    settings: run.settings,
    scenarios: run.scenarios,
    proxies,
    unavailable: new Map(Object.entries(run.unavailable)),
    records: run.records,
    traces: run.traces,
  });
  const written = writeResults(run.settings.name, report.markdown, report.charts);
  if (!options['report-only']) written.push(writeRawJson(run.settings.name, run));
  log(`\nresults in ${Math.round((Date.now() - started) / 1000)} s:`);
  for (const file of written) log(`  ${file}`);
}

async function measureRequestResponse() {
  const unknown = options['rr-proxies'].filter((id) => !PROXIES.some((p) => p.id === id));
  if (unknown.length) {
    console.error(`unknown relay(s): ${unknown.join(', ')}; known: ${PROXIES.map((p) => p.id).join(', ')}`);
    process.exit(2);
  }
  const proxies = PROXIES.filter((p) => options['rr-proxies'].includes(p.id));
  const settings = { name: options.out, runs: options['rr-runs'], seconds: options['rr-seconds'], warmupSeconds: options['rr-warmup'] };
  compileClient('rrclient');
  const unavailable = new Map();
  for (const proxy of proxies) {
    const reason = proxy.unavailableReason();
    if (reason) unavailable.set(proxy.id, reason);
  }
  const environment = [
    ...describeEnvironment([['HAProxy', 'haproxy', ['-v']], ['C compiler', process.env.CC || 'cc', ['--version']]]),
    projectBuildFact(),
  ];
  const scenarios = [];
  for (const connections of options['rr-connections']) {
    for (const size of options['rr-sizes']) for (const depth of options['rr-depths']) scenarios.push({ connections, size, depth });
  }
  const load = startLoadMonitor(liveGroups);
  const records = [];
  for (const scenario of scenarios) {
    for (let run = 1; run <= settings.runs; run++) {
      const active = proxies.filter((p) => !unavailable.has(p.id));
      const order = active.map((_, i) => active[(i + run - 1) % active.length]);
      for (const proxy of order) {
        const record = await measureRrRun({ proxy, scenario, run, seconds: settings.seconds, warmupSeconds: settings.warmupSeconds, zerocopyArgs: options['zerocopy-args'] });
        records.push(record);
        if (record.outcome === 'not-started') unavailable.set(proxy.id, record.reason);
        const detail = record.outcome === 'ok'
          ? `${formatNumber(record.requests / record.seconds)} req/s, p50 ${record.p50Us} µs, p99 ${record.p99Us} µs${record.userSeconds == null ? '' : `, ${formatNumber((record.userSeconds + record.sysSeconds) / (record.requests / 1e6))} CPU-s/1M req`}`
          : `${record.outcome}: ${record.reason}`;
        log(`${scenarioLabel(scenario).padEnd(30)} run ${run}/${settings.runs}  ${proxy.label.padEnd(24)} ${detail}`);
      }
    }
  }
  const otherLoad = load.stop();
  environment.push(loadFact(otherLoad));
  if (otherLoad.heavy) log(heavyLoadWarning(otherLoad));
  const traces = [];
  if (options.syscalls && !canCountSyscalls()) log('strace is not installed: skipping syscall counts');
  if (options.syscalls && canCountSyscalls()) {
    const traced = [...new Set(options['rr-sizes'])].map((size) => ({ connections: 1, size, depth: 1 }));
    for (const scenario of traced) {
      for (const proxy of proxies.filter((p) => p.command && !unavailable.has(p.id))) {
        const record = await traceRrSyscalls({ proxy, scenario, seconds: 2, zerocopyArgs: options['zerocopy-args'] });
        traces.push(record);
        const total = record.outcome === 'ok' ? record.syscalls.reduce((sum, r) => sum + r.calls, 0) / record.requests : null;
        log(`strace   ${scenarioLabel(scenario).padEnd(30)} ${proxy.label.padEnd(24)} ${total == null ? `${record.outcome}: ${record.reason}` : `${formatNumber(total)} syscalls per round trip`}`);
      }
    }
  }
  return { quick: options.quick, settings, environment, otherLoad, scenarios, proxyIds: proxies.map((p) => p.id), unavailable: Object.fromEntries(unavailable), records, traces };
}
