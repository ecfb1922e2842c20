// Static-file HTTP benchmark (issue 3): zerocopy serve against nginx,
// express.static, @fastify/static and a createReadStream().pipe(res) server,
// on the same fixtures, in the same run.
//
//   node bench/http.mjs [--quick] [--runs 3] [--sizes 4k,1m,64m,1g] ...
//   node bench/http.mjs --sweep [--quick]   (cost against concurrency, slow
//                                             clients, --workers: lib/http-sweep.mjs)
//   node bench/http.mjs --help
//
// Writes bench/results/<out>.md, <out>-*.svg and <out>.json (every run, from
// which --report-only can redraw the report).

import { compileClient } from './lib/compile.mjs';
import { describeEnvironment, hasCommand, peerPackageVersions } from './lib/environment.mjs';
import { ensureFixtures, formatSize, parseSize } from './lib/fixtures.mjs';
import { WRK_MAX_BYTES, measureHttpRun, traceHttpSyscalls } from './lib/http-measure.mjs';
import { buildHttpReport, deriveHttpMetrics } from './lib/http-report.mjs';
import { measureConcurrency, measureSlowClients, workerCounts } from './lib/http-sweep.mjs';
import { buildSweepReport } from './lib/http-sweep-report.mjs';
import { list, onOff, positiveInteger, readOptions } from './lib/options.mjs';
import { heavyLoadWarning, loadFact, startLoadMonitor } from './lib/load.mjs';
import { liveGroups } from './lib/proc.mjs';
import { formatNumber, readRawJson, writeRawJson, writeResults } from './lib/report.mjs';
import { canCountSyscalls, formatSyscalls } from './lib/syscalls.mjs';
import { BUN_BINARY, HTTP_SERVERS } from './peers/http-servers.mjs';
import { projectBuildFact, splitArgs } from './peers/zerocopy.mjs';

const options = readOptions(
  {
    runs: { env: 'BENCH_RUNS', default: 3, quick: 1, parse: positiveInteger, help: 'measured runs per server and size' },
    sizes: { env: 'BENCH_SIZES', default: ['4k', '1m', '64m', '1g'], quick: ['4k', '64m'], parse: list, help: 'fixture sizes' },
    servers: { env: 'BENCH_SERVERS', default: HTTP_SERVERS.filter((s) => s.byDefault).map((s) => s.id), parse: list, help: `servers, from: ${HTTP_SERVERS.map((s) => s.id).join(', ')}` },
    duration: { env: 'BENCH_DURATION', default: 6, quick: 2, parse: positiveInteger, help: 'seconds of wrk load per run (small files)' },
    'big-duration': { env: 'BENCH_BIG_DURATION', default: 5, quick: 2, parse: positiveInteger, help: 'seconds of bigread load per run (big files)' },
    'big-max-requests': { env: 'BENCH_BIG_MAX_REQUESTS', default: 10000, parse: positiveInteger, help: 'request cap per bigread run' },
    warmup: { env: 'BENCH_WARMUP', default: 1, parse: positiveInteger, help: 'seconds of unmeasured warm-up per run' },
    connections: { env: 'BENCH_CONNECTIONS', default: 32, parse: positiveInteger, help: 'wrk connections' },
    threads: { env: 'BENCH_THREADS', default: 1, parse: positiveInteger, help: 'wrk threads (2 cores: 1 for wrk, 1 for the server)' },
    'big-connections': { env: 'BENCH_BIG_CONNECTIONS', default: 1, parse: positiveInteger, help: 'bigread connections' },
    'big-recv-buffer': { env: 'BENCH_BIG_RECV_BUFFER', default: 1 << 20, parse: parseSize, help: 'bigread bytes per recv() (e.g. 64k to read like curl)' },
    'zerocopy-args': { env: 'BENCH_ZEROCOPY_ARGS', default: [], parse: splitArgs, help: 'extra flags for zerocopy serve' },
    syscalls: { env: 'BENCH_SYSCALLS', default: true, parse: onOff, help: 'on|off: extra untimed pass counting server syscalls with strace -f -c' },
    out: { env: 'BENCH_OUT', help: 'results name: bench/results/<out>.md [default http, or http-sweep with --sweep; -quick appended for --quick]' },
    'report-only': { type: 'boolean', help: 'rewrite <out>.md and charts from <out>.json without measuring' },
    sweep: { type: 'boolean', help: 'concurrency sweep, slow clients and --workers scaling instead (issue 11)' },
    'sweep-servers': { env: 'BENCH_SWEEP_SERVERS', default: ['zerocopy', 'nginx', 'go'], parse: list, help: '--sweep: servers' },
    'sweep-connections': { env: 'BENCH_SWEEP_CONNECTIONS', default: [1, 100, 1000, 10000], quick: [1, 100], parse: (t) => list(t).map((n) => positiveInteger(n)), help: '--sweep: keep-alive connections per point' },
    'sweep-sizes': { env: 'BENCH_SWEEP_SIZES', default: ['4k', '1m'], quick: ['4k'], parse: list, help: '--sweep: file sizes for the concurrency points' },
    'slow-clients': { env: 'BENCH_SLOW_CLIENTS', default: 1000, quick: 50, parse: positiveInteger, help: '--sweep: slow clients' },
    'slow-seconds': { env: 'BENCH_SLOW_SECONDS', default: 10, quick: 2, parse: positiveInteger, help: '--sweep: seconds of slow reading' },
  },
  { usage: 'usage: node bench/http.mjs [options]\nStatic-file benchmark: the project against its peers (see bench/README.md).' },
);

options.out ??= `${options.sweep ? 'http-sweep' : 'http'}${options.quick ? '-quick' : ''}`;
const settings = {
  name: options.out,
  runs: options.runs,
  wrkSeconds: options.duration,
  bigSeconds: options['big-duration'],
  bigMaxRequests: options['big-max-requests'],
  warmupSeconds: options.warmup,
  wrkConnections: options.connections,
  wrkThreads: options.threads,
  bigConnections: options['big-connections'],
  bigRecvBufferBytes: options['big-recv-buffer'],
  zerocopyArgs: options['zerocopy-args'],
};

const log = (line) => console.log(line);
const started = Date.now();
if (options.sweep) {
  await runSweep();
  process.exit(0);
}
const run = options['report-only'] ? readRawJson(settings.name) : await measure();
const servers = HTTP_SERVERS.filter((s) => run.serverIds.includes(s.id));
const fixtures = run.fixtures;
const unavailable = new Map(Object.entries(run.unavailable));
const title = `Static-file HTTP benchmark${run.quick ? ' (quick smoke run)' : ''}`;
const report = buildHttpReport({ ...run, servers, unavailable, title });
const written = writeResults(run.settings.name, report.markdown, report.charts);
if (!options['report-only']) written.push(writeRawJson(run.settings.name, run));
log(`\n${report.peerOnly ? 'peer-only results' : 'results'} in ${Math.round((Date.now() - started) / 1000)} s:`);
for (const file of written) log(`  ${file}`);

/** Runs every measurement; resolves what the report and <out>.json need. */
async function measure() {
  const unknown = options.servers.filter((id) => !HTTP_SERVERS.some((s) => s.id === id));
  if (unknown.length) {
    console.error(`unknown server(s): ${unknown.join(', ')}; known: ${HTTP_SERVERS.map((s) => s.id).join(', ')}`);
    process.exit(2);
  }
  const servers = HTTP_SERVERS.filter((s) => options.servers.includes(s.id));
  const sizes = [...new Set(options.sizes.map(parseSize))].sort((a, b) => a - b);
  if (sizes.some((bytes) => bytes <= WRK_MAX_BYTES) && !hasCommand('wrk')) {
    console.error('wrk is not installed; it drives the small-file runs (apt-get install wrk)');
    process.exit(1);
  }
  if (sizes.some((bytes) => bytes > WRK_MAX_BYTES)) compileClient('bigread');

  const unavailable = new Map();
  for (const server of servers) {
    const reason = server.unavailableReason();
    if (reason) {
      unavailable.set(server.id, reason);
      log(`${server.label}: not available (${reason})`);
    }
  }

  log(`fixtures: ${sizes.map(formatSize).join(', ')}`);
  const fixtures = ensureFixtures(sizes, log);
  const environment = [
    ...describeEnvironment([
      ['nginx', 'nginx', ['-v']],
      ['wrk', 'wrk', ['-v']],
      ['C compiler', process.env.CC || 'cc', ['--version']],
      ['Go', 'go', ['version']],
      ['Bun', BUN_BINARY, ['--version']],
    ]),
    ['npm peers', peerPackageVersions(['express', 'serve-static', 'fastify', '@fastify/static'])],
    projectBuildFact(),
  ];

  const load = startLoadMonitor(liveGroups);
  const records = [];
  for (const fixture of fixtures) {
    for (let run = 1; run <= settings.runs; run++) {
      const active = servers.filter((s) => !unavailable.has(s.id) && fixture.bytes <= (s.maxBytes ?? Infinity));
      // Rotate the order each run so no server always goes first (or last)
      // while the shared machine's background load drifts.
      const order = active.map((_, i) => active[(i + run - 1) % active.length]);
      for (const server of order) {
        const record = await measureHttpRun({ server, fixture, run, settings, verify: run === 1 });
        records.push(record);
        if (record.outcome === 'not-started') {
          // Neither the project's CLI nor a broken peer will start on a retry.
          unavailable.set(server.id, record.reason);
        }
        log(`${fixture.label.padEnd(7)} run ${run}/${settings.runs}  ${server.label.padEnd(42)} ${describe(record)}`);
      }
    }
  }

  const otherLoad = load.stop();
  environment.push(loadFact(otherLoad));
  if (otherLoad.heavy) log(heavyLoadWarning(otherLoad));

  // Untimed: strace slows the traced server several-fold.
  const syscallRecords = [];
  if (options.syscalls && !canCountSyscalls()) log('strace is not installed: skipping syscall counts');
  if (options.syscalls && canCountSyscalls()) {
    for (const fixture of fixtures) {
      for (const server of servers.filter((s) => !unavailable.has(s.id) && fixture.bytes <= (s.maxBytes ?? Infinity))) {
        const record = await traceHttpSyscalls({ server, fixture, settings });
        syscallRecords.push(record);
        const detail = record.outcome === 'ok' ? `per request: ${formatSyscalls(record.syscalls, record.requests, 4)}` : `${record.outcome}: ${record.reason}`;
        log(`${fixture.label.padEnd(7)} strace   ${server.label.padEnd(42)} ${detail}`);
      }
    }
  }
  return {
    quick: options.quick,
    settings,
    environment,
    otherLoad,
    serverIds: servers.map((s) => s.id),
    // No absolute paths in committed results: the file is re-derived from the name.
    fixtures: fixtures.map(({ bytes, label, urlPath, sha256 }) => ({ bytes, label, urlPath, sha256 })),
    unavailable: Object.fromEntries(unavailable),
    records,
    syscallRecords,
  };
}

function describe(record) {
  if (record.outcome !== 'ok') return `${record.outcome}: ${record.reason}`;
  const d = deriveHttpMetrics(record);
  return `${formatNumber(d.reqPerSec)} req/s  ${formatNumber(d.gbPerSec)} GB/s  ${formatNumber(d.cpuPerGb)} CPU-s/GB  ${formatNumber(d.rssMiB)} MiB${record.errors ? `  ${record.errors} errors` : ''}`;
}

/** --sweep: concurrency points, slow clients, --workers scaling; writes the report. */
async function runSweep() {
  const run = options['report-only'] ? readRawJson(settings.name) : await measureSweep();
  const servers = HTTP_SERVERS.filter((s) => run.serverIds.includes(s.id));
  const report = buildSweepReport({ title: `Static-file HTTP benchmark: concurrency sweep${run.quick ? ' (quick smoke run)' : ''}`, ...run, servers });
  const written = writeResults(run.settings.name, report.markdown, report.charts);
  if (!options['report-only']) written.push(writeRawJson(run.settings.name, run));
  log(`\nresults in ${Math.round((Date.now() - started) / 1000)} s:`);
  for (const file of written) log(`  ${file}`);
}

async function measureSweep() {
  const servers = HTTP_SERVERS.filter((s) => options['sweep-servers'].includes(s.id));
  const unavailable = new Map(servers.map((s) => [s.id, s.unavailableReason()]).filter(([, why]) => why));
  for (const [id, why] of unavailable) log(`${id}: not available (${why})`);
  const sizes = options['sweep-sizes'].map(parseSize);
  const slowFileBytes = 64 << 20;
  const fixtures = ensureFixtures([...new Set([...sizes, slowFileBytes])].sort((a, b) => a - b), log);
  compileClient('slowread');
  const sweep = {
    ...settings,
    slowClients: options['slow-clients'],
    slowSeconds: options['slow-seconds'],
    slowBytesPerSecond: 1e6,
    slowFileBytes,
    seconds: options.duration,
  };
  const environment = [
    ...describeEnvironment([['nginx', 'nginx', ['-v']], ['wrk', 'wrk', ['-v']], ['Go', 'go', ['version']]]),
    projectBuildFact(),
  ];
  const load = startLoadMonitor(liveGroups);
  const records = [];
  const active = servers.filter((s) => !unavailable.has(s.id));
  for (const fixture of fixtures.filter((f) => sizes.includes(f.bytes))) {
    for (const connections of options['sweep-connections']) {
      for (let run = 1; run <= settings.runs; run++) {
        const order = active.map((_, i) => active[(i + run - 1) % active.length]);
        for (const server of order) {
          const record = await measureConcurrency({ server, fixture, connections, run, seconds: options.duration, warmupSeconds: settings.warmupSeconds, extraArgs: settings.zerocopyArgs });
          records.push(record);
          log(`${fixture.label.padEnd(7)} ${String(connections).padStart(6)} conn  run ${run}  ${server.label.padEnd(28)} ${record.outcome === 'ok' ? `${formatNumber(record.requests / record.seconds)} req/s  ${formatNumber(((record.userSeconds + record.sysSeconds) / record.requests) * 1e6)} µs/req  ${formatNumber(record.rssKiB / 1024)} MiB${record.errors ? `  ${record.errors} errors` : ''}` : `${record.outcome}: ${record.reason}`}`);
        }
      }
    }
  }
  const slowFixture = fixtures.find((f) => f.bytes === slowFileBytes);
  for (let run = 1; run <= settings.runs; run++) {
    for (const server of active) {
      const record = await measureSlowClients({ server, fixture: slowFixture, clients: sweep.slowClients, bytesPerSecond: sweep.slowBytesPerSecond, seconds: sweep.slowSeconds, run, extraArgs: settings.zerocopyArgs });
      records.push(record);
      log(`slow    ${String(sweep.slowClients).padStart(6)} clients run ${run}  ${server.label.padEnd(28)} ${record.outcome === 'ok' ? `${formatNumber(record.bytes / record.seconds / 1e6)} MB/s  ${formatNumber((record.userSeconds + record.sysSeconds) / record.seconds)} cores  ${formatNumber(record.rssKiB / 1024)} MiB${record.loopDelay ? `  loop p99 ${formatNumber(record.loopDelay.p99Ms)} ms` : ''}` : `${record.outcome}: ${record.reason}`}`);
    }
  }
  const zerocopy = HTTP_SERVERS.find((s) => s.id === 'zerocopy');
  const small = fixtures.find((f) => f.bytes === Math.min(...sizes));
  if (zerocopy && !unavailable.has('zerocopy') && small) {
    for (const workers of workerCounts()) {
      for (let run = 1; run <= settings.runs; run++) {
        const record = await measureConcurrency({ server: zerocopy, fixture: small, connections: 100, run, seconds: options.duration, warmupSeconds: settings.warmupSeconds, extraArgs: ['--workers', String(workers), ...settings.zerocopyArgs] });
        records.push({ ...record, workers });
        log(`workers ${workers}  run ${run}  ${record.outcome === 'ok' ? `${formatNumber(record.requests / record.seconds)} req/s  ${formatNumber(record.rssKiB / 1024)} MiB` : `${record.outcome}: ${record.reason}`}`);
      }
    }
  }
  const otherLoad = load.stop();
  environment.push(loadFact(otherLoad));
  return { quick: options.quick, settings: sweep, environment, otherLoad, serverIds: servers.map((s) => s.id), records };
}
