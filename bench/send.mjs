// Issue 12's benchmark: bytes that start in user memory.
//
//   npm run bench:send               loopback TCP, the device path, vmsplice (≈ 10 min)
//   npm run bench:send -- --quick    smoke run (seconds)
//   node bench/send.mjs --help       every option
//
// 1. Loopback TCP, through the library: sendBuffers with MSG_ZEROCOPY, with
//    io_uring SEND_ZC and with zerocopy 'never' (a copying sendmsg), next to
//    Node's socket.write of the same buffers, one call per write, into a C
//    sink (bench/clients/tcpstream.c). A fresh sender process per run
//    measures its own CPU (process.cpuUsage). Loopback delivers to a local
//    socket, so the kernel copies every zero-copy page there and says so:
//    the table shows it (copied = 100 %).
// 2. The device path (root only: `unshare -n`): UDP from a private network
//    namespace to a neighbour on a tap device with no reader, whose carrier
//    is off, so the kernel frees each packet as a NIC frees one after its
//    DMA, and with TX checksum offload on (TUNSETOFFLOAD), so nothing makes
//    it touch the payload. There MSG_ZEROCOPY and SEND_ZC complete without a
//    copy, and bench/clients/sendpath.c measures sender CPU-s/GB against
//    plain send() per write size: the crossover is what DEFAULT_MIN_ZEROCOPY_BYTES
//    in src/transfer/send-buffers.ts should be. Evidence rows show which paths
//    copy (no checksum offload, a veth whose peer namespace receives, loopback).
//    UDP caps a write at 64 KiB, and TCP needs a peer that acknowledges, which
//    a device that frees without copying cannot be: there is no 1 MiB row here.
// 3. vmsplice + splice against send() over loopback TCP, and the hazard that
//    keeps it out of the library: memory changed after both calls returned
//    changes what the peer receives.
//
// Results: bench/results/send.md (+ .json, + SVG charts). Talks to 127.0.0.1
// and, inside the private namespace, to documentation addresses only.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

import { compileClient } from './lib/compile.mjs';
import { describeEnvironment, hasCommand } from './lib/environment.mjs';
import { formatSize, parseSize } from './lib/fixtures.mjs';
import { list, onOff, positiveInteger, readOptions } from './lib/options.mjs';
import { REPO_DIR } from './lib/paths.mjs';
import { runBounded } from './lib/proc.mjs';
import { BYTES_PER_GB, environmentTable, formatNumber, markdownTable, median, writeRawJson, writeResults } from './lib/report.mjs';
import { renderBarChart } from './lib/svg-chart.mjs';
import { startSink } from './lib/tcpstream.mjs';

const LOOPBACK_SENDERS = {
  'socket.write': "Node socket.write (drain-paced)",
  copy: "sendBuffers, zerocopy: 'never'",
  msg_zerocopy: 'sendBuffers, MSG_ZEROCOPY',
  io_uring: 'sendBuffers, io_uring SEND_ZC',
};
const DEVICE_METHODS = { send: 'send()', msg_zerocopy: 'send(MSG_ZEROCOPY)', send_zc: 'io_uring SEND_ZC' };
/** The largest UDP payload through the tap's 65521-byte MTU, in round figures. */
const UDP_MAX_WRITE = 65000;
const RUN_TIMEOUT_MS = 180_000;

const spec = {
  runs: { env: 'BENCH_RUNS', default: 3, quick: 1, parse: positiveInteger, help: 'measured runs per scenario (medians reported)' },
  bytes: { env: 'BENCH_BYTES', default: 1 << 30, quick: 4 << 20, parse: parseSize, help: 'bytes per run' },
  'max-calls': { env: 'BENCH_MAX_CALLS', default: 65536, quick: 256, parse: positiveInteger, help: 'caps bytes per run at write × max-calls (small writes)' },
  writes: { env: 'BENCH_WRITES', default: ['1k', '4k', '16k', '64k', '256k', '1m'], quick: ['4k', '64k', '1m'], parse: list, help: 'loopback write sizes' },
  senders: { env: 'BENCH_SENDERS', default: Object.keys(LOOPBACK_SENDERS), parse: list, help: `loopback senders (${Object.keys(LOOPBACK_SENDERS).join(', ')})` },
  'device-writes': { env: 'BENCH_DEVICE_WRITES', default: ['1k', '2k', '4k', '8k', '16k', '32k', String(UDP_MAX_WRITE)], quick: ['4k', String(UDP_MAX_WRITE)], parse: list, help: 'device-path UDP write sizes (at most 65000)' },
  device: { env: 'BENCH_DEVICE', default: true, parse: onOff, help: 'run the device path (needs root and unshare)' },
  out: { env: 'BENCH_OUT', default: 'send', quick: 'send-quick', help: 'results name (bench/results/<out>.md)' },
};

const USAGE = 'Usage: node bench/send.mjs [options]\n\nSends bytes that start in user memory: sendBuffers vs socket.write over loopback, MSG_ZEROCOPY and\nSEND_ZC vs send() on a device path, vmsplice vs send().';

// --- child processes ----------------------------------------------------------

function childArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

/** Loopback child: one sender, one run; prints a JSON line. */
async function loopbackChild({ sender, write, bytes, port }) {
  const { sendBuffers } = await import(pathToFileURL(join(REPO_DIR, 'dist/src/index.js')).href);
  const size = Number(write);
  const total = Number(bytes);
  const socket = net.connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  // socket.write may hold a buffer until it is flushed: distinct buffers in
  // turn. sendBuffers resolves once the kernel let go: one buffer, reused.
  const buffers = Array.from({ length: sender === 'socket.write' ? 64 : 1 }, (_, i) => Buffer.alloc(size, 0x41 + i));
  const options = { zerocopy: sender === 'copy' ? 'never' : 'always', backend: sender === 'io_uring' ? 'io_uring' : 'msg_zerocopy' };
  const zc = { sends: 0, completions: 0, copiedBytes: 0, bytes: 0, enobufs: 0 };
  let method = 'socket.write';
  let sent = 0;
  const cpu = process.cpuUsage();
  for (let i = 0; sent < total; i++) {
    const buffer = buffers[i % buffers.length].subarray(0, Math.min(size, total - sent));
    if (sender === 'socket.write') {
      if (!socket.write(buffer)) await once(socket, 'drain');
    } else {
      const result = await sendBuffers(socket, buffer, options);
      method = result.method;
      for (const key of Object.keys(zc)) zc[key] += result.zerocopy[key];
    }
    sent += buffer.length;
  }
  socket.end();
  await once(socket, 'finish');
  const used = process.cpuUsage(cpu);
  const { bytes: zcBytes, ...counts } = zc;
  process.stdout.write(`${JSON.stringify({ bytes: sent, method, user: used.user / 1e6, sys: used.system / 1e6, zcBytes, ...counts })}\n`);
  await once(socket, 'close');
}

function run(command, args) {
  return runBounded(command, args, { timeoutMs: RUN_TIMEOUT_MS }).then(({ code, stdout, stderr, timedOut }) => {
    if (timedOut || code !== 0) throw new Error(`${command} ${args.join(' ')}: ${timedOut ? 'timed out' : `exit ${code}`} ${stderr.trim()}`);
    return stdout;
  });
}

/**
 * Device child, run by `unshare -n` as root: builds the private network and
 * runs sendpath for every scenario, printing one JSON array.
 *
 *   zc0  tap, TX checksum offload, no reader   192.0.2.1/24    → 192.0.2.2 (static neighbour)
 *   zc1  tap, no offload, no reader            198.51.100.1/24 → 198.51.100.2
 *   vz0  veth, peer down                       203.0.113.1/24  → 203.0.113.9
 *   vz0  veth, peer in its own namespace       203.0.113.1/24  → 203.0.113.2 (its address)
 */
async function deviceChild({ writes, bytes, runs, maxcalls }) {
  const sendpath = compileClient('sendpath');
  const ip = (...args) => run('ip', args);
  await ip('link', 'set', 'lo', 'up');
  const tap = async (name, offload, address, neighbour, mac) => {
    await run(sendpath, ['tap', name, ...(offload ? ['offload'] : [])]);
    await ip('link', 'set', name, 'mtu', '65521');
    await ip('link', 'set', name, 'up');
    await ip('addr', 'add', `${address}/24`, 'dev', name);
    await ip('neigh', 'add', neighbour, 'lladdr', mac, 'dev', name, 'nud', 'permanent');
  };
  await tap('zc0', true, '192.0.2.1', '192.0.2.2', '02:00:00:00:00:02');
  await tap('zc1', false, '198.51.100.1', '198.51.100.2', '02:00:00:00:00:03');
  const udp = async (dest, write, total, method) => JSON.parse((await run(sendpath, ['udp', '-d', dest, '-s', String(write), '-n', String(total), '-m', method])).trim());
  const results = [];
  for (const write of writes.map(Number)) {
    const total = Math.min(Number(bytes), write * Number(maxcalls));
    for (let r = 0; r < Number(runs); r++) {
      for (const method of Object.keys(DEVICE_METHODS)) results.push({ kind: 'device', ...(await udp('192.0.2.2', write, total, method)) });
    }
  }
  const evidenceBytes = 64 * UDP_MAX_WRITE;
  const evidence = async (path, dest) => {
    for (const method of ['msg_zerocopy', 'send_zc']) results.push({ kind: 'evidence', path, ...(await udp(dest, UDP_MAX_WRITE, evidenceBytes, method)) });
  };
  await evidence('tap, TX checksum offload, no reader', '192.0.2.2');
  await evidence('tap, no checksum offload, no reader', '198.51.100.2');
  await ip('link', 'add', 'vz0', 'type', 'veth', 'peer', 'name', 'vz1');
  await ip('link', 'set', 'vz0', 'mtu', '65521');
  await ip('link', 'set', 'vz0', 'up');
  await ip('addr', 'add', '203.0.113.1/24', 'dev', 'vz0');
  await ip('neigh', 'add', '203.0.113.9', 'lladdr', '02:00:00:00:00:09', 'dev', 'vz0', 'nud', 'permanent');
  await evidence('veth, peer down', '203.0.113.9');
  if (hasCommand('nsenter')) {
    // The peer end in a namespace of its own, addressed: its stack receives.
    const peer = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await ip('link', 'set', 'vz1', 'netns', String(peer.pid));
      const inPeer = (...args) => run('nsenter', ['-t', String(peer.pid), '-n', 'ip', ...args]);
      await inPeer('link', 'set', 'lo', 'up');
      await inPeer('link', 'set', 'vz1', 'mtu', '65521');
      await inPeer('link', 'set', 'vz1', 'up');
      await inPeer('addr', 'add', '203.0.113.2/24', 'dev', 'vz1');
      await evidence('veth, peer namespace receives', '203.0.113.2');
    } finally {
      peer.kill('SIGKILL');
    }
  }
  await evidence('loopback', '127.0.0.1');
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

// --- measuring ---------------------------------------------------------------------

async function measureLoopback(sender, write, bytes, sink) {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child', 'loopback', '--sender', sender, '--write', String(write), '--bytes', String(bytes), '--port', String(sink.port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const line = (await readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]().next()).value;
  const received = await sink.nextReceived(RUN_TIMEOUT_MS);
  clearTimeout(timer);
  if (!line) throw new Error(`${sender}: the sender printed nothing`);
  const report = JSON.parse(line);
  if (received.bytes !== bytes || report.bytes !== bytes) throw new Error(`${sender}: received ${received.bytes}, sent ${report.bytes}, expected ${bytes}`);
  const seconds = Number(received.eofNs - BigInt(received.first_byte_ns)) / 1e9;
  const gb = bytes / BYTES_PER_GB;
  return { kind: 'loopback', sender, write, ...report, gbPerSecond: gb / seconds, cpuPerGb: (report.user + report.sys) / gb };
}

async function measureVmsplice(method, write, bytes, sink) {
  const sendpath = compileClient('sendpath');
  const [stdout, received] = await Promise.all([
    run(sendpath, ['tcp', '-p', String(sink.port), '-s', String(write), '-n', String(bytes), '-m', method]),
    sink.nextReceived(RUN_TIMEOUT_MS),
  ]);
  const report = JSON.parse(stdout.trim());
  if (received.bytes !== bytes) throw new Error(`${method}: received ${received.bytes} of ${bytes}`);
  const gb = bytes / BYTES_PER_GB;
  return { kind: 'vmsplice', ...report, gbPerSecond: gb / (Number(received.eofNs - BigInt(received.first_byte_ns)) / 1e9), cpuPerGb: (report.user + report.sys) / gb };
}

/** Runs the device child in a private network namespace, or says why it cannot. */
async function measureDevice(options) {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (a tap device and a private network namespace)' };
  if (!hasCommand('unshare') || !hasCommand('ip')) return { skipped: 'needs unshare (util-linux) and ip (iproute2)' };
  const args = ['-n', process.execPath, new URL(import.meta.url).pathname, '--child', 'device', '--writes', options['device-writes'].join(','),
    '--bytes', String(options.bytes), '--runs', String(options.runs), '--maxcalls', String(options['max-calls'])];
  const { code, stdout, stderr, timedOut } = await runBounded('unshare', args, { timeoutMs: 30 * 60_000 });
  if (timedOut || code !== 0) return { skipped: `unshare -n failed (${timedOut ? 'timed out' : `exit ${code}`}): ${stderr.trim().split('\n').pop()}` };
  return { results: JSON.parse(stdout.trim().split('\n').pop()) };
}

// --- report ---------------------------------------------------------------------------

const percent = (part, whole) => (whole > 0 ? `${Math.round((100 * part) / whole)} %` : '–');

function loopbackTable(results, writes, senders) {
  const rows = [];
  for (const write of writes) {
    for (const sender of senders) {
      const runs = results.filter((r) => r.write === write && r.sender === sender);
      if (runs.length === 0) continue;
      const last = runs[runs.length - 1];
      rows.push([formatSize(write), LOOPBACK_SENDERS[sender], last.method, formatNumber(median(runs.map((r) => r.gbPerSecond))),
        formatNumber(median(runs.map((r) => r.cpuPerGb))), String(last.sends), String(last.completions), percent(last.copiedBytes, last.zcBytes)]);
    }
  }
  return markdownTable([
    { title: 'write', align: 'right' }, { title: 'sender', align: 'left' }, { title: 'method', align: 'left' }, { title: 'GB/s', align: 'right' },
    { title: 'sender CPU s/GB', align: 'right' }, { title: 'zero-copy sends', align: 'right' }, { title: 'completions', align: 'right' },
    { title: 'copied (kernel)', align: 'right' },
  ], rows);
}

function deviceRows(results, writes) {
  const rows = [];
  const crossover = [];
  for (const write of writes) {
    const cpu = {};
    for (const method of Object.keys(DEVICE_METHODS)) {
      const runs = results.filter((r) => r.write === write && r.method === method);
      if (runs.length === 0) continue;
      const gb = runs[0].bytes / BYTES_PER_GB;
      cpu[method] = median(runs.map((r) => (r.user + r.sys) / (r.bytes / BYTES_PER_GB)));
      const last = runs[runs.length - 1];
      rows.push([formatSize(write), DEVICE_METHODS[method], formatNumber(median(runs.map((r) => gb / r.seconds))), formatNumber(cpu[method]),
        String(last.sends), String(last.completions), method === 'send' ? '–' : percent(last.copied, last.sends), String(last.enobufs)]);
    }
    crossover.push({ write, cpu });
  }
  const table = markdownTable([
    { title: 'write', align: 'right' }, { title: 'method', align: 'left' }, { title: 'GB/s', align: 'right' }, { title: 'sender CPU s/GB', align: 'right' },
    { title: 'zero-copy sends', align: 'right' }, { title: 'completions', align: 'right' }, { title: 'copied (kernel)', align: 'right' }, { title: 'ENOBUFS', align: 'right' },
  ], rows);
  const wins = crossover.filter(({ cpu }) => cpu.msg_zerocopy != null && cpu.send != null && cpu.msg_zerocopy < cpu.send).map(({ write }) => write);
  // One win can be noise; "steady" is the smallest write from which every larger size measured wins too.
  let steady = null;
  for (const { write, cpu } of [...crossover].sort((a, b) => b.write - a.write)) {
    if (cpu.msg_zerocopy == null || cpu.send == null || cpu.msg_zerocopy >= cpu.send) break;
    steady = write;
  }
  return { table, crossover: wins.length ? Math.min(...wins) : null, steady, series: crossover };
}

function evidenceTable(results) {
  const rows = results.map((r) => [r.path, r.method === 'send_zc' ? 'io_uring SEND_ZC' : 'MSG_ZEROCOPY', String(r.sends), String(r.completions), `${r.copied} (${percent(r.copied, r.sends)})`]);
  return markdownTable([{ title: 'path', align: 'left' }, { title: 'method', align: 'left' }, { title: 'sends', align: 'right' }, { title: 'completions', align: 'right' }, { title: 'flagged copied', align: 'right' }], rows);
}

function cpuChart(title, subtitle, groups) {
  return renderBarChart({
    title,
    subtitle,
    panels: groups.map(({ write, bars }) => ({ title: `${formatSize(write)} writes`, unit: 's/GB', bars })),
    labels: [...new Set(groups.flatMap((g) => g.bars.map((b) => b.label)))],
  });
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    const args = childArgs(argv.slice(2));
    if (argv[1] === 'loopback') return loopbackChild(args);
    if (argv[1] === 'device') return deviceChild({ ...args, writes: args.writes.split(',') });
    throw new Error(`unknown child ${argv[1]}`);
  }
  const options = readOptions(spec, { usage: USAGE });
  if (!fs.existsSync(join(REPO_DIR, 'dist/src/index.js'))) throw new Error('build first: npm run build:ts');
  const writes = options.writes.map(parseSize);
  const senders = options.senders.filter((s) => s in LOOPBACK_SENDERS);
  const deviceWrites = options['device-writes'].map(parseSize).filter((w) => w <= UDP_MAX_WRITE);
  const capped = (write) => Math.min(options.bytes, write * options['max-calls']);

  console.log(`Loopback: ${writes.map(formatSize).join(', ')} writes, ${senders.length} senders, ${options.runs} run(s) each…`);
  const vmspliceWrites = writes.filter((w) => w >= 4096);
  const connections = writes.length * senders.length * options.runs + vmspliceWrites.length * 2 * options.runs;
  const sink = await startSink({ connections, verifyFirst: false, timeoutSeconds: 1800 });
  const loopback = [];
  const vmsplice = [];
  try {
    for (const write of writes) {
      for (let r = 0; r < options.runs; r++) {
        for (const sender of senders) {
          const result = await measureLoopback(sender, write, capped(write), sink);
          loopback.push(result);
          console.log(`${formatSize(write).padStart(8)} ${sender.padEnd(13)} ${formatNumber(result.gbPerSecond)} GB/s  CPU ${formatNumber(result.cpuPerGb)} s/GB  ` +
            `sends ${result.sends} completions ${result.completions} copied ${result.copiedBytes}/${result.bytes}`);
        }
      }
    }
    console.log('vmsplice + splice vs send() over loopback…');
    for (const write of vmspliceWrites) {
      for (let r = 0; r < options.runs; r++) {
        for (const method of ['send', 'vmsplice']) {
          const result = await measureVmsplice(method, write, capped(write), sink);
          vmsplice.push(result);
          console.log(`${formatSize(write).padStart(8)} ${method.padEnd(9)} ${formatNumber(result.gbPerSecond)} GB/s  CPU ${formatNumber(result.cpuPerGb)} s/GB`);
        }
      }
    }
  } finally {
    await sink.handle.stop();
  }
  const hazard = JSON.parse((await run(compileClient('sendpath'), ['hazard'])).trim());
  console.log(`vmsplice hazard: ${hazard.vmsplice_changed} of ${hazard.bytes} received bytes changed after the calls returned (send: ${hazard.send_changed})`);

  const device = options.device ? await measureDevice({ ...options, 'device-writes': deviceWrites.map(String) }) : { skipped: 'turned off (--device off)' };
  if (device.skipped) console.log(`Device path skipped: ${device.skipped}`);

  const sections = [
    '# Sending user memory: sendBuffers, MSG_ZEROCOPY, io_uring SEND_ZC, vmsplice',
    '',
    `${options.runs} run(s) per scenario, medians; up to ${formatSize(options.bytes)} per run (at most ${options['max-calls']} writes). Sender CPU per GB`,
    '(1 GB = 10⁹ bytes) from the sender process itself; "copied (kernel)" is the share of zero-copy bytes whose completion',
    'the kernel flagged as copied (SO_EE_CODE_ZEROCOPY_COPIED / IORING_NOTIF_USAGE_ZC_COPIED).',
    '',
    '## Loopback TCP, through the library',
    '',
    'One call per write into a C sink. Loopback delivers to a local socket, which the kernel copies: every zero-copy',
    'completion says so, and zero-copy only adds pinning and completions to the copy.',
    '',
    loopbackTable(loopback, writes, senders),
    '',
  ];
  const charts = [];
  charts.push({
    suffix: 'loopback-cpu-per-gb',
    svg: cpuChart('Loopback TCP: sender CPU-seconds per GB (lower is better)', `median of ${options.runs}`, writes.map((write) => ({
      write,
      bars: senders.map((sender) => ({ label: LOOPBACK_SENDERS[sender], value: median(loopback.filter((r) => r.write === write && r.sender === sender).map((r) => r.cpuPerGb)) })),
    }))),
  });
  sections.push('## The device path: UDP to a tap with no reader, in a private network namespace', '');
  if (device.skipped) {
    sections.push(`Not measured: ${device.skipped}.`, '');
  } else {
    const measured = device.results.filter((r) => r.kind === 'device');
    const rows = deviceRows(measured, deviceWrites);
    sections.push(
      'bench/clients/sendpath.c, one datagram per write (SEND_ZC: 32 per io_uring_enter), every completion read before the clock',
      'stops. The tap has TX checksum offload (TUNSETOFFLOAD) and no reader: the kernel frees each packet unread, as after a',
      "NIC's DMA. No 1 MiB row: a UDP write is at most 64 KiB, and TCP needs a peer that acknowledges.",
      '',
      rows.table,
      '',
      rows.crossover == null
        ? '**MSG_ZEROCOPY used more sender CPU per GB than send() at every write size measured.**'
        : `**MSG_ZEROCOPY used less sender CPU per GB than send() first at ${formatSize(rows.crossover)}${rows.steady == null ? '' : `, and at every size from ${formatSize(rows.steady)} up`}.** \`sendBuffers\`' default \`minBytes\` (DEFAULT_MIN_ZEROCOPY_BYTES, src/transfer/send-buffers.ts) is chosen from these two.`,
      '',
      '### Which paths copy: the kernel\'s own flag',
      '',
      `${formatSize(64 * UDP_MAX_WRITE)} in ${formatSize(UDP_MAX_WRITE)} datagrams per path.`,
      '',
      evidenceTable(device.results.filter((r) => r.kind === 'evidence')),
      '',
    );
    charts.push({
      suffix: 'device-cpu-per-gb',
      svg: cpuChart('Device path (tap, no reader): sender CPU-seconds per GB (lower is better)', `UDP, median of ${options.runs}`, rows.series.map(({ write, cpu }) => ({
        write,
        bars: Object.keys(DEVICE_METHODS).map((method) => ({ label: DEVICE_METHODS[method], value: cpu[method] ?? null })),
      }))),
    });
  }
  const vmspliceRows = vmspliceWrites.flatMap((write) => ['send', 'vmsplice'].map((method) => {
    const runs = vmsplice.filter((r) => r.write === write && r.method === method);
    return [formatSize(write), method === 'send' ? 'send()' : 'vmsplice() + splice()', formatNumber(median(runs.map((r) => r.gbPerSecond))), formatNumber(median(runs.map((r) => r.cpuPerGb)))];
  }));
  sections.push(
    '## vmsplice',
    '',
    markdownTable([{ title: 'write', align: 'right' }, { title: 'method', align: 'left' }, { title: 'GB/s', align: 'right' }, { title: 'sender CPU s/GB', align: 'right' }], vmspliceRows),
    '',
    `Hazard: after vmsplice() and splice() of ${formatSize(hazard.bytes)} returned, the sender overwrote its buffer; ` +
      `**${hazard.vmsplice_changed} of ${hazard.bytes} bytes the peer received were the overwritten ones** (with send(): ${hazard.send_changed}). ` +
      'Nothing tells the sender when the kernel is done with the pages, so the library does not offer vmsplice.',
    '',
    environmentTable(describeEnvironment([['cc', process.env.CC || 'cc', ['--version']]])),
    '',
  );
  writeRawJson(options.out, { options, loopback, vmsplice, hazard, device });
  const written = writeResults(options.out, sections.join('\n'), charts);
  console.log(`\nWrote ${written.join(', ')}`);
}

await main();
