// Issue 2's benchmark: a 1 GiB file over loopback to a reader, with sendFile and
// with fs.createReadStream().pipe(socket) (and the forced copy path), each run in a
// fresh sender process that measures its own CPU with process.cpuUsage().
//
//   npm run bench:transfer            (5 runs of each, 1 GiB)
//   npm run bench:transfer -- --runs 3 --size 256MiB
//   npm run bench:transfer -- --sweep (per-call cost: sendFile vs a stream pipe with
//                                      chunks from 1 KiB to 1 MiB, 64 MiB file)
//   npm run bench:transfer -- --baseline DIR
//                                     (adds sendFile from another checkout, built, e.g. a
//                                      `git worktree` of an older commit, in the same run:
//                                      the before/after of an engine change)
//
// The reader is bench/clients/tcpstream.c's sink (a C process that discards bytes
// and timestamps first and last byte). Results: stdout and bench/results/transfer.md.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { describeEnvironment } from './lib/environment.mjs';
import { heavyLoadWarning, loadFact, startLoadMonitor } from './lib/load.mjs';
import { liveGroups } from './lib/proc.mjs';
import { ensureFixtures, parseSize, sizeName } from './lib/fixtures.mjs';
import { REPO_DIR } from './lib/paths.mjs';
import { BYTES_PER_GB, environmentTable, formatNumber, formatRatio, markdownTable, median, ratio, writeResults } from './lib/report.mjs';
import { renderBarChart } from './lib/svg-chart.mjs';
import { startSink } from './lib/tcpstream.mjs';

const SENDERS = {
  sendFile: 'zerocopy sendFile (sendfile(2))',
  copy: 'zerocopy sendFile, method: copy (fallback)',
  pipe: 'fs.createReadStream().pipe(socket)',
};
const RUN_TIMEOUT_MS = 120_000;

function parseArgs(argv) {
  const options = { runs: 5, size: 1 << 30 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') options.runs = Number(argv[++i]);
    else if (argv[i] === '--size') options.size = parseSize(argv[++i]);
    else if (argv[i] === '--sender') options.sender = argv[++i];
    else if (argv[i] === '--file') options.file = argv[++i];
    else if (argv[i] === '--port') options.port = Number(argv[++i]);
    else if (argv[i] === '--chunk') options.chunk = Number(argv[++i]);
    else if (argv[i] === '--sweep') options.sweep = true;
    else if (argv[i] === '--baseline') options.baseline = resolve(argv[++i]);
    else if (argv[i] === '--lib') options.lib = argv[++i];
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return options;
}

/**
 * Child mode: connect to the sink, send the file with `sender`, print CPU and
 * bytes as JSON. `lib` is the checkout whose build is loaded (this one by
 * default; the baseline's for `--baseline`).
 */
async function runSender(sender, file, port, chunk, lib = REPO_DIR) {
  const { sendFile } = await import(pathToFileURL(join(lib, 'dist/src/index.js')).href);
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const cpu = process.cpuUsage();
  let bytes;
  let method = 'stream';
  if (sender === 'pipe') {
    const stream = fs.createReadStream(file, chunk ? { highWaterMark: chunk } : {});
    stream.pipe(socket, { end: false });
    await once(stream, 'end');
    bytes = stream.bytesRead;
  } else if (chunk) {
    // One sendFile per chunk, following the file position: the per-call cost.
    const fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    bytes = 0;
    while (bytes < size) {
      const result = await sendFile(socket, fd, { length: Math.min(chunk, size - bytes), ...(sender === 'copy' ? { method: 'copy' } : {}) });
      bytes += result.bytes;
      method = result.method;
    }
    fs.closeSync(fd);
  } else {
    ({ bytes, method } = await sendFile(socket, file, sender === 'copy' ? { method: 'copy' } : {}));
  }
  const used = process.cpuUsage(cpu);
  socket.end();
  await once(socket, 'close');
  process.stdout.write(`${JSON.stringify({ bytes, method, userSeconds: used.user / 1e6, systemSeconds: used.system / 1e6 })}\n`);
}

async function measure(sender, file, size, sink, chunk, lib) {
  const args = ['--sender', sender, '--file', file, '--port', String(sink.port), ...(chunk ? ['--chunk', String(chunk)] : []),
    ...(lib ? ['--lib', lib] : [])];
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const line = (await lines.next()).value;
  const received = await sink.nextReceived(RUN_TIMEOUT_MS);
  clearTimeout(timer);
  if (!line) throw new Error(`${sender}: the sender printed nothing`);
  const report = JSON.parse(line);
  if (received.bytes !== size || report.bytes !== size) throw new Error(`${sender}: received ${received.bytes}, sent ${report.bytes}, expected ${size}`);
  // From the sink's first byte to its EOF: the sender's pace, not process start-up.
  const seconds = Number(received.eofNs - BigInt(received.first_byte_ns)) / 1e9;
  const gb = size / BYTES_PER_GB;
  return {
    sender,
    chunk,
    method: report.method,
    gbPerSecond: gb / seconds,
    userPerGb: report.userSeconds / gb,
    systemPerGb: report.systemSeconds / gb,
    cpuPerGb: (report.userSeconds + report.systemSeconds) / gb,
  };
}

const SWEEP_CHUNKS = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];
const SWEEP_FILE_BYTES = 64 << 20;

/** Per-call cost: the same 64 MiB in chunks of 1 KiB … 1 MiB, sendFile per chunk vs a stream pipe. */
async function sweep(options) {
  const [fixture] = ensureFixtures([SWEEP_FILE_BYTES], (line) => console.log(line));
  const senders = ['sendFile', 'pipe'];
  const sink = await startSink({ connections: SWEEP_CHUNKS.length * senders.length * options.runs, verifyFirst: false, timeoutSeconds: 600 });
  const load = startLoadMonitor(liveGroups);
  const results = [];
  try {
    for (const chunk of SWEEP_CHUNKS) {
      for (const sender of senders) {
        const runs = [];
        for (let run = 0; run < options.runs; run++) runs.push(await measure(sender, fixture.file, SWEEP_FILE_BYTES, sink, chunk));
        const cpuPerGb = median(runs.map((r) => r.cpuPerGb));
        const gbPerSecond = median(runs.map((r) => r.gbPerSecond));
        results.push({ chunk, sender, cpuPerGb, gbPerSecond });
        console.log(`${sizeName(chunk).padStart(5)} ${sender.padEnd(8)} ${formatNumber(gbPerSecond)} GB/s  CPU ${formatNumber(cpuPerGb)} s/GB`);
      }
    }
  } finally {
    await sink.handle.stop();
  }
  const otherLoad = load.stop();
  const rows = SWEEP_CHUNKS.map((chunk) => {
    const mine = results.find((r) => r.chunk === chunk && r.sender === 'sendFile');
    const pipe = results.find((r) => r.chunk === chunk && r.sender === 'pipe');
    return [sizeName(chunk), formatNumber(mine.gbPerSecond), formatNumber(mine.cpuPerGb), formatNumber(pipe.gbPerSecond), formatNumber(pipe.cpuPerGb), formatRatio(ratio(pipe.cpuPerGb, mine.cpuPerGb))];
  });
  const table = markdownTable([
    { title: 'chunk', align: 'right' }, { title: 'sendFile GB/s', align: 'right' }, { title: 'sendFile CPU s/GB', align: 'right' },
    { title: 'pipe GB/s', align: 'right' }, { title: 'pipe CPU s/GB', align: 'right' }, { title: 'pipe / sendFile CPU', align: 'right' },
  ], rows);
  writeResults('transfer-sweep', [
    ...(otherLoad.heavy ? [heavyLoadWarning(otherLoad), ''] : []),
    '# Transfer benchmark: chunk-size sweep',
    '',
    `The same ${sizeName(SWEEP_FILE_BYTES)} file sent as one sendFile call per chunk (following the file position), against`,
    '`fs.createReadStream(file, { highWaterMark: chunk }).pipe(socket)`. Medians of ' + `${options.runs} runs; sender CPU per GB.`,
    '',
    table,
    '',
    environmentTable([...describeEnvironment(), loadFact(otherLoad)]),
    '',
  ].join('\n'));
  console.log(`\n${table}`);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.sender) return runSender(options.sender, options.file, options.port, options.chunk, options.lib);
  if (options.sweep) return sweep(options);
  if (!fs.existsSync(join(REPO_DIR, 'dist/src/index.js'))) throw new Error('build first: npm run build:ts');
  // Rows: this build's senders, plus the baseline's sendFile, measured in turn within each run.
  const rowsToRun = Object.keys(SENDERS).map((sender) => ({ key: sender, sender, label: SENDERS[sender] }));
  if (options.baseline) {
    if (!fs.existsSync(join(options.baseline, 'dist/src/index.js'))) throw new Error(`--baseline ${options.baseline}: no dist/src/index.js there (npm install in it first)`);
    const commit = spawnSync('git', ['-C', options.baseline, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || 'unknown commit';
    rowsToRun.splice(1, 0, { key: 'baseline', sender: 'sendFile', label: `zerocopy sendFile, baseline build ${commit}`, lib: options.baseline });
  }
  const [fixture] = ensureFixtures([options.size], (line) => console.log(line));
  const file = fixture.file;
  console.log(`Sending ${sizeName(options.size)} ${options.runs} times with each sender (plus one warm-up)…`);
  const sink = await startSink({ connections: 1 + (options.baseline ? 1 : 0) + options.runs * rowsToRun.length, verifyFirst: false, timeoutSeconds: 600 });
  const load = startLoadMonitor(liveGroups);
  const results = [];
  try {
  await measure('sendFile', file, options.size, sink); // warm-up: page cache and JIT
  if (options.baseline) await measure('sendFile', file, options.size, sink, undefined, options.baseline);
  for (let run = 1; run <= options.runs; run++) {
    for (const row of rowsToRun) {
      const result = { ...(await measure(row.sender, file, options.size, sink, undefined, row.lib)), key: row.key };
      results.push(result);
      console.log(`run ${run} ${row.key.padEnd(8)} ${formatNumber(result.gbPerSecond)} GB/s  ` +
        `CPU ${formatNumber(result.cpuPerGb)} s/GB (user ${formatNumber(result.userPerGb)}, sys ${formatNumber(result.systemPerGb)})`);
    }
  }
  } finally {
    await sink.handle.stop();
  }
  const otherLoad = load.stop();
  const labels = Object.fromEntries(rowsToRun.map((row) => [row.key, row.label]));
  const summary = Object.fromEntries(rowsToRun.map(({ key }) => {
    const mine = results.filter((r) => r.key === key);
    return [key, {
      method: mine[0].method,
      gbPerSecond: median(mine.map((r) => r.gbPerSecond)),
      cpuPerGb: median(mine.map((r) => r.cpuPerGb)),
      userPerGb: median(mine.map((r) => r.userPerGb)),
      systemPerGb: median(mine.map((r) => r.systemPerGb)),
    }];
  }));
  const cpuRatio = ratio(summary.pipe.cpuPerGb, summary.sendFile.cpuPerGb);
  const rows = Object.entries(summary).map(([key, s]) => [
    labels[key], s.method, formatNumber(s.gbPerSecond), formatNumber(s.cpuPerGb), formatNumber(s.userPerGb),
    formatNumber(s.systemPerGb), formatRatio(ratio(s.cpuPerGb, summary.sendFile.cpuPerGb)),
  ]);
  const table = markdownTable([
    { title: 'Sender', align: 'left' }, { title: 'method', align: 'left' }, { title: 'GB/s', align: 'right' },
    { title: 'CPU s/GB', align: 'right' }, { title: 'user s/GB', align: 'right' }, { title: 'sys s/GB', align: 'right' },
    { title: 'CPU vs sendFile', align: 'right' },
  ], rows);
  const markdown = [
    ...(otherLoad.heavy ? [heavyLoadWarning(otherLoad), ''] : []),
    '# Transfer benchmark: one file over loopback',
    '',
    `${sizeName(options.size)} file, ${options.runs} runs per sender, medians. Sender CPU from process.cpuUsage() in a`,
    'fresh sender process per run; GB/s measured by a C sink from first to last byte (1 GB = 10⁹ bytes).',
    ...(options.baseline ? ['The baseline row is sendFile loaded from another checkout (an older build), measured in turn with the', 'other senders in every run: the before/after of the engine between the two commits.'] : []),
    '',
    table,
    '',
    `**stream pipe uses ${formatRatio(cpuRatio)} the sender CPU per GB of sendFile.**`,
    '',
    environmentTable([...describeEnvironment(), loadFact(otherLoad)]),
    '',
  ].join('\n');
  const chart = renderBarChart({
    title: 'Sender CPU-seconds per GB (lower is better)',
    subtitle: `${sizeName(options.size)} over loopback, median of ${options.runs}`,
    panels: [{
      title: sizeName(options.size),
      unit: 's/GB',
      bars: Object.entries(summary).map(([key, s]) => ({
        label: labels[key],
        value: s.cpuPerGb,
        segments: [{ name: 'user', value: s.userPerGb }, { name: 'sys', value: s.systemPerGb }],
      })),
    }],
    segmentNames: ['user', 'sys'],
  });
  writeResults('transfer', markdown, [{ suffix: 'cpu-per-gb', svg: chart }]);
  console.log(`\n${table}\n\nstream pipe / sendFile CPU per GB: ${formatRatio(cpuRatio)}`);
}

await main();
