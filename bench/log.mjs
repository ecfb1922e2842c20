// Kafka-protocol broker benchmark (issue 15): `zerocopy log serve` fetching
// with sendfile against the same broker copying through user space
// (--copy), with 1, 8 and 32 consumers reading the same log; and produce
// throughput with the record bytes spliced into the segment
// (--produce-receive-bytes 0) against a buffered append, per batch size, to
// find where splicing starts to pay.
//
//   npm run bench:log [-- --quick] [-- --runs 3] [-- --bytes 1g] ...
//   node bench/log.mjs --help
//
// Every broker is a fresh `node bin/zerocopy.js log serve` process in its
// own process group; its CPU time (utime+stime from /proc) is sampled
// around each timed pass. The load generator (bench/clients/log-client.mjs)
// is another process. A verified warm-up pass (every batch's CRC-32C
// checked by the client) precedes the timed fetches: a broker that corrupts
// data gets no number. Writes bench/results/<out>.md, <out>-*.svg, <out>.json.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { describeEnvironment } from './lib/environment.mjs';
import { formatSize, parseSize } from './lib/fixtures.mjs';
import { list, positiveInteger, readOptions } from './lib/options.mjs';
import { harnessRunDir, PROJECT_CLI, REPO_DIR } from './lib/paths.mjs';
import { cpuDelta, findFreePort, peakGroupRssKiB, runBounded, sampleGroupCpu, startServer } from './lib/proc.mjs';
import { BYTES_PER_GB, environmentTable, formatNumber, markdownTable, median, readRawJson, writeRawJson, writeResults } from './lib/report.mjs';
import { renderBarChart } from './lib/svg-chart.mjs';
import { projectBuildFact } from './peers/zerocopy.mjs';

const options = readOptions(
  {
    runs: { env: 'BENCH_RUNS', default: 3, quick: 1, parse: positiveInteger, help: 'measured runs per scenario' },
    bytes: { env: 'BENCH_BYTES', default: 2 ** 30, quick: 16 << 20, parse: parseSize, help: 'size of the log every consumer reads (e.g. 1g)' },
    consumers: { env: 'BENCH_CONSUMERS', default: [1, 8, 32], quick: [1, 2], parse: (t) => list(t).map(positiveInteger), help: 'consumer counts, each reading the whole log' },
    'fetch-bytes': { env: 'BENCH_FETCH_BYTES', default: 8 << 20, parse: parseSize, help: 'max bytes per Fetch request' },
    'produce-bytes': { env: 'BENCH_PRODUCE_BYTES', default: 512 << 20, quick: 16 << 20, parse: parseSize, help: 'bytes produced per produce pass' },
    batches: { env: 'BENCH_BATCHES', default: [16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20], quick: [64 << 10, 1 << 20], parse: (t) => list(t).map(parseSize), help: 'produce batch sizes swept (e.g. 16k,1m)' },
    'in-flight': { env: 'BENCH_IN_FLIGHT', default: 4, parse: positiveInteger, help: 'produce requests in flight (Kafka clients default to 5)' },
    out: { env: 'BENCH_OUT', default: 'log', quick: 'log-quick', help: 'results name: bench/results/<out>.md' },
    'report-only': { type: 'boolean', help: 'rewrite <out>.md and charts from <out>.json without measuring' },
  },
  { usage: 'usage: node bench/log.mjs [options]\nKafka-protocol broker: fetch by sendfile vs copy, produce spliced vs buffered (see the header of bench/log.mjs).' },
);

const CLIENT = join(REPO_DIR, 'bench', 'clients', 'log-client.mjs');
const FETCH_MODES = [
  { id: 'sendfile', label: 'zerocopy log (sendfile)', args: [] },
  { id: 'copy', label: 'zerocopy log --copy (read + write)', args: ['--copy'] },
];
const PRODUCE_MODES = [
  { id: 'buffered', label: 'buffered append', args: [] },
  { id: 'splice', label: 'receiveToFile (splice)', args: ['--produce-receive-bytes', '0'] },
];
// Kafka's own published numbers, quoted as an anchor only (not measured
// here, other hardware, 100-byte records over a network): J. Kreps,
// "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap
// Machines)", 2014: one producer thread, no replication, 78.3 MB/s; one
// consumer, 89.7 MB/s.
const KAFKA_ANCHOR = 'Kafka\'s published figures (Kreps 2014, not measured here): one producer 78.3 MB/s, one consumer 89.7 MB/s, 100-byte records over a 1 GbE network.';

const log = (line) => console.log(line);

/** Starts a broker on `dir`; resolves its handle and port. */
async function startBroker(dir, extraArgs) {
  const port = await findFreePort();
  const handle = await startServer({
    name: 'zerocopy log',
    command: process.execPath,
    args: [PROJECT_CLI, 'log', 'serve', dir, '--listen', `127.0.0.1:${port}`, '--fsync', 'never', ...extraArgs],
    cwd: REPO_DIR,
    port,
  });
  return { handle, port };
}

async function client(args, bytes) {
  // Generous: 60 s, or 20 MB/s for big passes.
  const timeoutMs = Math.max(60000, (bytes / 20e6) * 1000);
  const result = await runBounded(process.execPath, [CLIENT, ...args], { timeoutMs });
  if (result.timedOut) return { error: `load generator timed out after ${timeoutMs} ms` };
  const line = result.stdout.trim().split('\n').at(-1);
  try {
    return JSON.parse(line);
  } catch {
    return { error: `load generator said: ${(result.stderr || result.stdout).trim().slice(-300)}` };
  }
}

/** Fills `dir` with `bytes` of 1 MiB batches in topic 'bench' (untimed). */
async function fill(dir, bytes) {
  const { handle, port } = await startBroker(dir, []);
  try {
    const result = await client(['produce', String(port), 'bench', String(bytes), String(1 << 20), '4'], bytes);
    if (result.error) throw new Error(`filling the log: ${result.error}`);
  } finally {
    await handle.stop();
  }
}

async function measureFetch(dir, mode, consumers, run) {
  const base = { scenario: 'fetch', mode: mode.id, consumers, run };
  let broker;
  try {
    broker = await startBroker(dir, mode.args);
    const warm = await client(['fetch', String(broker.port), 'bench', '1', String(options['fetch-bytes']), 'verify'], options.bytes);
    if (warm.error) return { ...base, outcome: 'failed', reason: `warm-up: ${warm.error}` };
    return await timedClient(broker, ['fetch', String(broker.port), 'bench', String(consumers), String(options['fetch-bytes'])], options.bytes * consumers, base);
  } catch (error) {
    return { ...base, outcome: 'failed', reason: error.message };
  } finally {
    await broker?.handle.stop();
  }
}

/** Runs the load client with the broker's CPU sampled around it: the run's record. */
async function timedClient(broker, args, expectedBytes, base) {
  const before = sampleGroupCpu(broker.handle.pgid);
  const result = await client(args, expectedBytes);
  const after = sampleGroupCpu(broker.handle.pgid);
  if (result.error) return { ...base, outcome: 'failed', reason: result.error };
  return { ...base, outcome: 'ok', bytes: result.bytes, seconds: result.seconds, ...cpuDelta(before, after), rssKiB: peakGroupRssKiB(broker.handle.pgid) };
}

async function measureProduce(workDir, mode, batchBytes, run) {
  const base = { scenario: 'produce', mode: mode.id, batchBytes, run };
  const dir = join(workDir, `produce-${mode.id}-${batchBytes}-${run}`);
  let broker;
  try {
    broker = await startBroker(dir, mode.args);
    return await timedClient(broker, ['produce', String(broker.port), 'bench', String(options['produce-bytes']), String(batchBytes), String(options['in-flight'])], options['produce-bytes'], base);
  } catch (error) {
    return { ...base, outcome: 'failed', reason: error.message };
  } finally {
    await broker?.handle.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure() {
  const settings = { name: options.out, runs: options.runs, bytes: options.bytes, consumers: options.consumers, fetchBytes: options['fetch-bytes'], produceBytes: options['produce-bytes'], batches: options.batches, inFlight: options['in-flight'] };
  const workDir = join(harnessRunDir(), 'log');
  mkdirSync(workDir, { recursive: true });
  const environment = [...describeEnvironment(), projectBuildFact()];
  const records = [];
  const dataDir = join(workDir, 'fetch-data');
  log(`filling a ${formatSize(options.bytes)} log ...`);
  await fill(dataDir, options.bytes);
  for (let run = 1; run <= settings.runs; run++) {
    for (const consumers of settings.consumers) {
      // Alternate which mode goes first, so drift on the shared machine does not always favour one.
      const modes = run % 2 ? FETCH_MODES : [...FETCH_MODES].reverse();
      for (const mode of modes) {
        const record = await measureFetch(dataDir, mode, consumers, run);
        records.push(record);
        log(`run ${run}/${settings.runs}  fetch   ${mode.label.padEnd(34)} ${String(consumers).padStart(2)} consumer(s)  ${describe(record)}`);
      }
    }
    for (const batchBytes of settings.batches) {
      const modes = run % 2 ? PRODUCE_MODES : [...PRODUCE_MODES].reverse();
      for (const mode of modes) {
        const record = await measureProduce(workDir, mode, batchBytes, run);
        records.push(record);
        log(`run ${run}/${settings.runs}  produce ${mode.label.padEnd(34)} ${formatSize(batchBytes).padStart(8)} batches  ${describe(record)}`);
      }
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  return { quick: options.quick, settings, environment, records };
}

function derive(record) {
  if (record.outcome !== 'ok') return null;
  const gb = record.bytes / BYTES_PER_GB;
  return { gbPerSec: gb / record.seconds, cpuPerGb: (record.userSeconds + record.sysSeconds) / gb, userPerGb: record.userSeconds / gb, sysPerGb: record.sysSeconds / gb, rssMiB: record.rssKiB / 1024 };
}

function describe(record) {
  const d = derive(record);
  if (!d) return `${record.outcome}: ${record.reason}`;
  return `${formatNumber(d.gbPerSec)} GB/s  ${formatNumber(d.cpuPerGb)} CPU-s/GB (user ${formatNumber(d.userPerGb)}, sys ${formatNumber(d.sysPerGb)})`;
}

/** Medians of the derived metrics of the records matching `filter`. */
function summarize(records, filter) {
  const derived = records.filter(filter).map(derive).filter(Boolean);
  const failures = records.filter(filter).filter((r) => r.outcome !== 'ok');
  if (derived.length === 0) return { failed: failures[0]?.reason ?? 'no run' };
  const pick = (key) => median(derived.map((d) => d[key]));
  return { gbPerSec: pick('gbPerSec'), cpuPerGb: pick('cpuPerGb'), userPerGb: pick('userPerGb'), sysPerGb: pick('sysPerGb'), rssMiB: pick('rssMiB'), runs: derived.length };
}

function buildReport(run) {
  const { settings, records } = run;
  const fetchRows = [];
  const fetchPanelsGb = [];
  const fetchPanelsCpu = [];
  for (const consumers of settings.consumers) {
    const barsGb = [];
    const barsCpu = [];
    for (const mode of FETCH_MODES) {
      const s = summarize(records, (r) => r.scenario === 'fetch' && r.mode === mode.id && r.consumers === consumers);
      fetchRows.push([String(consumers), mode.label, ...(s.failed ? [s.failed, '', '', ''] : [formatNumber(s.gbPerSec), formatNumber(s.cpuPerGb), `${formatNumber(s.userPerGb)} / ${formatNumber(s.sysPerGb)}`, formatNumber(s.rssMiB)])]);
      barsGb.push({ label: mode.label, value: s.failed ? null : s.gbPerSec, missing: s.failed });
      barsCpu.push({ label: mode.label, value: s.failed ? null : s.cpuPerGb, missing: s.failed });
    }
    fetchPanelsGb.push({ title: `${consumers} consumer(s) reading the same ${formatSize(settings.bytes)}`, unit: 'GB/s', bars: barsGb });
    fetchPanelsCpu.push({ title: `${consumers} consumer(s)`, unit: 'CPU-s/GB', bars: barsCpu });
  }
  const produceRows = [];
  const producePanels = [];
  let crossover = null;
  for (const batchBytes of settings.batches) {
    const bars = [];
    const byMode = {};
    for (const mode of PRODUCE_MODES) {
      const s = summarize(records, (r) => r.scenario === 'produce' && r.mode === mode.id && r.batchBytes === batchBytes);
      byMode[mode.id] = s;
      produceRows.push([formatSize(batchBytes), mode.label, ...(s.failed ? [s.failed, '', '', ''] : [formatNumber(s.gbPerSec), formatNumber(s.cpuPerGb), `${formatNumber(s.userPerGb)} / ${formatNumber(s.sysPerGb)}`, formatNumber(s.rssMiB)])]);
      bars.push({ label: mode.label, value: s.failed ? null : s.cpuPerGb, missing: s.failed });
    }
    if (crossover === null && !byMode.splice.failed && !byMode.buffered.failed && byMode.splice.cpuPerGb < byMode.buffered.cpuPerGb) crossover = batchBytes;
    producePanels.push({ title: `${formatSize(batchBytes)} batches`, unit: 'CPU-s/GB', bars });
  }
  const columns = (first) => [{ title: first }, { title: 'broker' }, { title: 'GB/s', align: 'right' }, { title: 'CPU-s/GB', align: 'right' }, { title: 'user / sys', align: 'right' }, { title: 'peak RSS MiB', align: 'right' }];
  const markdown = [
    `# Kafka-protocol broker benchmark${run.quick ? ' (quick smoke run)' : ''}`,
    '',
    `Medians of ${settings.runs} run(s). Broker CPU from /proc (utime+stime of its process group) around each timed pass; GB = 10^9 bytes; the load generator runs in its own process. --fsync never (the page cache is what is measured, not the disk).`,
    '',
    environmentTable(run.environment),
    '',
    `## Fetch: ${formatSize(settings.bytes)} log, every consumer reads all of it (${formatSize(settings.fetchBytes)} per Fetch)`,
    '',
    markdownTable(columns('consumers'), fetchRows),
    '',
    `## Produce: ${formatSize(settings.produceBytes)} per pass, ${settings.inFlight} requests in flight, acks=1`,
    '',
    markdownTable(columns('batch'), produceRows),
    '',
    crossover === null
      ? 'Splicing produce requests into the segment used more broker CPU per GB than a buffered append at every batch size measured.'
      : `Splicing produce requests into the segment used less broker CPU per GB than a buffered append from ${formatSize(crossover)} batches on.`,
    '',
    KAFKA_ANCHOR,
    '',
  ].join('\n');
  const labels = [...FETCH_MODES, ...PRODUCE_MODES].map((m) => m.label);
  const charts = [
    { suffix: 'fetch-gb-per-sec', svg: renderBarChart({ title: 'Fetch throughput (higher is better)', subtitle: 'aggregate over all consumers', panels: fetchPanelsGb, labels }) },
    { suffix: 'fetch-cpu-per-gb', svg: renderBarChart({ title: 'Broker CPU per GB fetched (lower is better)', panels: fetchPanelsCpu, labels }) },
    { suffix: 'produce-cpu-per-gb', svg: renderBarChart({ title: 'Broker CPU per GB produced (lower is better)', panels: producePanels, labels }) },
  ];
  return { markdown, charts, crossover };
}

const started = Date.now();
const run = options['report-only'] ? readRawJson(options.out) : await measure();
const report = buildReport(run);
const written = writeResults(run.settings.name, report.markdown, report.charts);
if (!options['report-only']) written.push(writeRawJson(run.settings.name, run));
log(`\nresults in ${Math.round((Date.now() - started) / 1000)} s:`);
for (const file of written) log(`  ${file}`);
