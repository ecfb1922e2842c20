// Turns the HTTP benchmark's run records into bench/results/<name>.md and
// its SVG charts: medians per server and size, ratios to the peers, the
// issue 3 targets, and every raw run.

import { formatSize } from './fixtures.mjs';
import { WRK_MAX_BYTES } from './http-measure.mjs';
import { BYTES_PER_GB, environmentTable, formatNumber, formatRatio, markdownTable, median, medianWithSplit, ratio } from './report.mjs';
import { heavyLoadWarning } from './load.mjs';
import { renderBarChart } from './svg-chart.mjs';
import { formatSyscalls } from './syscalls.mjs';

/** Per-run figures derived from a record (all per decimal GB, see report.mjs). */
export function deriveHttpMetrics(record) {
  const gigabytes = record.bytes / BYTES_PER_GB;
  return {
    reqPerSec: record.requests / record.seconds,
    gbPerSec: gigabytes / record.seconds,
    cpuUserPerGb: record.userSeconds / gigabytes,
    cpuSysPerGb: record.sysSeconds / gigabytes,
    cpuPerGb: (record.userSeconds + record.sysSeconds) / gigabytes,
    cpuUsPerReq: ((record.userSeconds + record.sysSeconds) / record.requests) * 1e6,
    // Results recorded before this column existed have no machineSeconds.
    machinePerGb: record.machineSeconds == null ? null : record.machineSeconds / gigabytes,
    rssMiB: record.rssKiB / 1024,
  };
}

/**
 * Medians per server and size. Each metric's median is taken on its own
 * across the ok runs (so the median req/s and the median CPU/GB may come
 * from different runs); the user/sys split of CPU/GB comes with its total
 * (medianWithSplit). Returns Map<serverId, Map<bytesPerFile, summary>>.
 */
export function summarizeHttp(records) {
  const groups = new Map();
  for (const record of records) {
    const byServer = groups.get(record.server) ?? new Map();
    groups.set(record.server, byServer);
    const list = byServer.get(record.bytesPerFile) ?? [];
    byServer.set(record.bytesPerFile, list);
    list.push(record);
  }
  const summaries = new Map();
  for (const [server, bySize] of groups) {
    const out = new Map();
    for (const [size, list] of bySize) {
      const ok = list.filter((r) => r.outcome === 'ok');
      const derived = ok.map(deriveHttpMetrics);
      const pick = (key) => median(derived.map((d) => d[key]));
      const cpu = medianWithSplit(derived, (d) => d.cpuPerGb, ['cpuUserPerGb', 'cpuSysPerGb']);
      out.set(size, {
        runs: ok.length,
        attempted: list.length,
        errors: ok.reduce((sum, r) => sum + r.errors, 0),
        reasons: [...new Set(list.filter((r) => r.outcome !== 'ok').map((r) => r.reason))],
        reqPerSec: pick('reqPerSec'),
        gbPerSec: pick('gbPerSec'),
        cpuPerGb: cpu?.total ?? null,
        cpuUserPerGb: cpu?.parts.cpuUserPerGb ?? null,
        cpuSysPerGb: cpu?.parts.cpuSysPerGb ?? null,
        cpuUsPerReq: pick('cpuUsPerReq'),
        machinePerGb: pick('machinePerGb'),
        rssMiB: pick('rssMiB'),
        latencyP99Ms: median(ok.map((r) => r.latencyP99Ms)),
      });
    }
    summaries.set(server, out);
  }
  return summaries;
}

// Issue 3, "Proof and speed": targets for zerocopy serve, as ratios in one run.
const HTTP_TARGETS = [
  { sizes: [64 << 20, 1 << 30], text: 'server CPU per GB ≤ 1.2× nginx', peer: 'nginx', value: (p, z) => ratio(z.cpuPerGb, p.cpuPerGb), pass: (r) => r <= 1.2 },
  { sizes: [64 << 20, 1 << 30], text: 'server CPU per GB ≥ 5× below express.static', peer: 'express-static', value: (p, z) => ratio(p.cpuPerGb, z.cpuPerGb), pass: (r) => r >= 5 },
  { sizes: [1 << 20], text: 'req/s ≥ 0.8× nginx', peer: 'nginx', value: (p, z) => ratio(z.reqPerSec, p.reqPerSec), pass: (r) => r >= 0.8 },
  { sizes: [4 << 10], text: 'req/s ≥ 3× express.static (one process)', peer: 'express-static', value: (p, z) => ratio(z.reqPerSec, p.reqPerSec), pass: (r) => r >= 3 },
];

/** One line per big size on which the C sendfile loop and express.static both ran. */
function floorNotes(fixtures, summaryOf) {
  const lines = [];
  for (const fixture of fixtures) {
    if (fixture.bytes <= WRK_MAX_BYTES) continue;
    const floor = summaryOf('sendfile-floor', fixture.bytes);
    const express = summaryOf('express-static', fixture.bytes);
    if (!floor?.runs || !express?.runs) continue;
    const zerocopy = summaryOf('zerocopy', fixture.bytes);
    const vsFloor = zerocopy?.runs ? `; zerocopy serve at ${formatRatio(ratio(zerocopy.cpuPerGb, floor.cpuPerGb))} the C loop's CPU per GB` : '';
    lines.push(`- ${fixture.label}: C loop ${formatNumber(floor.cpuPerGb)} CPU-s/GB, ${formatRatio(ratio(express.cpuPerGb, floor.cpuPerGb))} below express.static${vsFloor}.`);
  }
  return lines;
}

/**
 * Builds the report. `servers` are the registry entries that were selected,
 * `unavailable` maps a server id to why it did not run.
 * Returns { markdown, charts: [{ suffix, svg }], peerOnly }.
 */
export function buildHttpReport({ records, syscallRecords = [], fixtures, servers, unavailable, settings, environment, otherLoad, title }) {
  const summaries = summarizeHttp(records);
  const projectRan = servers.some((s) => s.isProject && !unavailable.has(s.id) && records.some((r) => r.server === s.id && r.outcome === 'ok'));
  const summaryOf = (id, bytes) => summaries.get(id)?.get(bytes) ?? null;
  const whyMissing = (server, bytes) => {
    if (unavailable.has(server.id)) return `not available: ${unavailable.get(server.id)}`;
    const s = summaryOf(server.id, bytes);
    return s?.reasons.length ? `failed: ${s.reasons.join('; ')}` : 'no data';
  };
  const out = [];
  const warning = heavyLoadWarning(otherLoad);
  if (warning) out.push(warning, '');
  out.push(`# ${title}`, '');
  if (!projectRan) {
    const projectIds = servers.filter((s) => s.isProject).map((s) => s.id);
    const reasons = projectIds.map((id) => unavailable.get(id)).filter(Boolean);
    out.push(`> **Peer-only results.** The project's server did not run${reasons.length ? ` (${[...new Set(reasons)].join('; ')})` : ''}. These numbers describe the peers on this machine; rerun \`npm run bench:http\` once \`zerocopy serve\` exists.`, '');
  }
  out.push(environmentTable(environment), '');
  out.push('## Method', '');
  out.push(
    `- Each measurement starts a fresh server process (its own process group), checks one response against the fixture's sha256 (first run of each size only), warms it up for ${settings.warmupSeconds} s, then applies a bounded load from 127.0.0.1. Servers run in rotating order within each run so drift on this shared machine hits all of them alike. ${settings.runs} run(s) per server and size; every figure is the median over runs, each metric on its own (the \`user + sys\` split is that of the median run, so the halves add up to the total).`,
    `- Files ≤ ${formatSize(WRK_MAX_BYTES)}: \`wrk -t${settings.wrkThreads} -c${settings.wrkConnections} -d${settings.wrkSeconds}s\`. Larger files: \`bigread\` (bench/clients/bigread.c, ${formatSize(settings.bigRecvBufferBytes)} per recv), ${settings.bigConnections} keep-alive connection(s), ${settings.bigSeconds} s or ${settings.bigMaxRequests} requests.`,
    '- **GB/s** counts response body bytes (1 GB = 10^9 bytes). **CPU-s/GB** = server CPU seconds (utime+stime of the server\'s process group, from /proc/PID/stat, including reaped children) during the timed load ÷ body GB sent; user and sys are shown as `user + sys`. **CPU µs/req** is the same CPU time per request. **machine CPU-s/GB** is the whole machine\'s busy time (/proc/stat: every process, the client included, and the kernel\'s softirq work) over the same window ÷ GB: on loopback the receive path runs in whichever context the kernel picks, so a server can look cheap because its client paid. **Peak RSS** is VmHWM summed over the server\'s processes.',
    '- Ratio columns divide this row\'s median by the peer\'s: for req/s and GB/s above 1× is faster than the peer; for CPU/GB below 1× is cheaper than the peer.',
    '- On loopback a sender\'s CPU per GB rises with the client\'s read speed (nginx: ~0.3 CPU-s/GB against a 1 MiB-recv client, ~0.08 against a 64 KiB one; bench/README.md, Caveats). All servers in one run face the same client; compare within a run.',
    '',
  );

  for (const fixture of fixtures) {
    const byWrk = fixture.bytes <= WRK_MAX_BYTES;
    out.push(`## ${fixture.label} (${byWrk ? 'wrk' : 'bigread'})`, '');
    const nginx = summaryOf('nginx', fixture.bytes);
    const express = summaryOf('express-static', fixture.bytes);
    const rows = servers.map((server) => {
      const s = summaryOf(server.id, fixture.bytes);
      if (!s || s.runs === 0) return [server.label, whyMissing(server, fixture.bytes), '', '', '', '', '', '', '', '', '', '', ''];
      const throughputRatio = (peer) => (byWrk ? ratio(s.reqPerSec, peer?.reqPerSec) : ratio(s.gbPerSec, peer?.gbPerSec));
      return [
        server.label,
        formatNumber(s.reqPerSec),
        formatNumber(s.gbPerSec),
        `${formatNumber(s.cpuPerGb)} (${formatNumber(s.cpuUserPerGb)} + ${formatNumber(s.cpuSysPerGb)})`,
        formatNumber(s.cpuUsPerReq),
        formatNumber(s.machinePerGb),
        formatNumber(s.rssMiB),
        formatRatio(throughputRatio(nginx)),
        formatRatio(throughputRatio(express)),
        formatRatio(ratio(s.cpuPerGb, nginx?.cpuPerGb)),
        formatRatio(ratio(s.cpuPerGb, express?.cpuPerGb)),
        String(s.errors),
        s.runs === s.attempted ? String(s.runs) : `${s.runs}/${s.attempted}`,
      ];
    });
    const speed = byWrk ? 'req/s' : 'GB/s';
    out.push(
      markdownTable(
        [
          { title: 'Server' }, { title: 'req/s', align: 'right' }, { title: 'GB/s', align: 'right' },
          { title: 'CPU-s/GB (user + sys)', align: 'right' }, { title: 'CPU µs/req', align: 'right' }, { title: 'machine CPU-s/GB', align: 'right' }, { title: 'peak RSS MiB', align: 'right' },
          { title: `${speed} vs nginx`, align: 'right' }, { title: `${speed} vs express.static`, align: 'right' },
          { title: 'CPU/GB vs nginx', align: 'right' }, { title: 'CPU/GB vs express.static', align: 'right' },
          { title: 'errors', align: 'right' }, { title: 'runs', align: 'right' },
        ],
        rows,
      ),
      '',
    );
  }

  out.push('## Targets for zerocopy serve (issue 3)', '');
  const project = servers.find((s) => s.id === 'zerocopy');
  const targetRows = [];
  for (const target of HTTP_TARGETS) {
    for (const bytes of target.sizes) {
      if (!fixtures.some((f) => f.bytes === bytes)) continue;
      const z = project ? summaryOf('zerocopy', bytes) : null;
      const p = summaryOf(target.peer, bytes);
      const value = z?.runs && p?.runs ? target.value(p, z) : null;
      targetRows.push([formatSize(bytes), target.text, formatRatio(value), value == null ? 'not evaluated' : target.pass(value) ? 'met' : 'missed']);
    }
  }
  out.push(targetRows.length ? markdownTable([{ title: 'Size' }, { title: 'Target' }, { title: 'Measured', align: 'right' }, { title: 'Result' }], targetRows) : 'No target applies to the sizes measured.', '');
  const floorLines = floorNotes(fixtures, summaryOf);
  if (floorLines.length) out.push('What the kernel leaves: the C sendfile loop runs no server logic, only one blocking sendfile per response, so its CPU per GB is close to the least a sendfile server pays against this client (nginx, sending in epoll-sized batches, can come in a little below it). A target further below express.static than this loop is the kernel\'s gap, not the server\'s.', '', ...floorLines, '');

  if (syscallRecords.length) {
    out.push('## Syscalls per request (strace -f -c, separate untimed pass)', '');
    out.push('The six most frequent syscalls of the server process group per request, counted during a short extra load (wrk for 2 s, or one bigread request) after a warm-up. strace slows the server, so no timing comes from this pass; it shows which path moved the bytes (sendfile vs read/write, pread64, writev). strace 6.1\'s `-c` summary leaves out syscalls it has no name for: zerocopy\'s `cachestat(2)` page-cache checks (syscall 451, about one per MiB sent from a file; `strace -f` without `-c` shows them as `syscall_0x1c3`) are missing from this table.', '');
    const cell = (server, fixture) => {
      const r = syscallRecords.find((x) => x.server === server.id && x.bytesPerFile === fixture.bytes);
      if (!r) return unavailable.has(server.id) ? 'not available' : '–';
      return r.outcome === 'ok' ? formatSyscalls(r.syscalls, r.requests) : `${r.outcome}: ${r.reason}`;
    };
    out.push(markdownTable([{ title: 'Server' }, ...fixtures.map((f) => ({ title: f.label }))], servers.map((server) => [server.label, ...fixtures.map((f) => cell(server, f))])), '');
  }

  const runDate = String(environment.find(([key]) => key === 'Date')?.[1] ?? '').slice(0, 10);
  const charts = httpCharts({ summaries, fixtures, servers, unavailable, settings, whyMissing, peerOnly: !projectRan, runDate });
  out.push('## Charts', '');
  for (const chart of charts) out.push(`![${chart.alt}](${settings.name}-${chart.suffix}.svg)`, '');

  out.push('## Every run', '');
  out.push(
    markdownTable(
      [
        { title: 'Size' }, { title: 'Run', align: 'right' }, { title: 'Server' }, { title: 'Tool' }, { title: 'req/s', align: 'right' },
        { title: 'GB/s', align: 'right' }, { title: 'CPU user s', align: 'right' }, { title: 'CPU sys s', align: 'right' },
        { title: 'CPU-s/GB', align: 'right' }, { title: 'machine CPU-s/GB', align: 'right' }, { title: 'RSS MiB', align: 'right' }, { title: 'p99 ms', align: 'right' }, { title: 'errors', align: 'right' }, { title: 'note' },
      ],
      records.map((r) => {
        const label = servers.find((s) => s.id === r.server)?.label ?? r.server;
        if (r.outcome !== 'ok') return [formatSize(r.bytesPerFile), r.run, label, '', '', '', '', '', '', '', '', '', '', `${r.outcome}: ${r.reason}`];
        const d = deriveHttpMetrics(r);
        return [
          formatSize(r.bytesPerFile), r.run, label, r.tool, formatNumber(d.reqPerSec), formatNumber(d.gbPerSec),
          formatNumber(r.userSeconds), formatNumber(r.sysSeconds), formatNumber(d.cpuPerGb), formatNumber(d.machinePerGb), formatNumber(d.rssMiB),
          formatNumber(r.latencyP99Ms), String(r.errors), r.firstError ?? '',
        ];
      }),
    ),
    '',
  );
  return { markdown: out.join('\n'), charts: charts.map(({ suffix, svg }) => ({ suffix, svg })), peerOnly: !projectRan };
}

function httpCharts({ summaries, fixtures, servers, unavailable, settings, whyMissing, peerOnly, runDate }) {
  const labels = servers.map((s) => s.label);
  const note = `${peerOnly ? 'PEER-ONLY: project server not available. ' : ''}Medians of ${settings.runs} run(s); ${runDate}`;
  const panelsFor = (pickFixtures, unit, bar) =>
    pickFixtures.map((fixture) => ({
      title: fixture.label,
      unit,
      bars: servers.map((server) => {
        const s = summaries.get(server.id)?.get(fixture.bytes);
        if (unavailable.has(server.id)) return { label: server.label, value: null, missing: 'not available' };
        if (!s || s.runs === 0) return { label: server.label, value: null, missing: whyMissing(server, fixture.bytes).slice(0, 60) };
        return { label: server.label, ...bar(s) };
      }),
    }));
  const charts = [];
  const small = fixtures.filter((f) => f.bytes <= WRK_MAX_BYTES);
  if (small.length) {
    charts.push({
      suffix: 'req-per-sec',
      alt: 'Requests per second by server and file size',
      svg: renderBarChart({ title: 'Static files: requests per second (higher is better)', subtitle: note, labels, panels: panelsFor(small, 'req/s', (s) => ({ value: s.reqPerSec })) }),
    });
  }
  charts.push({
    suffix: 'gb-per-sec',
    alt: 'Body throughput in GB/s by server and file size',
    svg: renderBarChart({ title: 'Static files: body throughput, GB/s (higher is better)', subtitle: note, labels, panels: panelsFor(fixtures, 'GB/s', (s) => ({ value: s.gbPerSec })) }),
  });
  charts.push({
    suffix: 'cpu-per-gb',
    alt: 'Server CPU seconds per GB, user and sys, by server and file size',
    svg: renderBarChart({
      title: 'Static files: server CPU-seconds per GB sent (lower is better)',
      subtitle: note,
      labels,
      segmentNames: ['user', 'sys'],
      panels: panelsFor(fixtures, 'CPU-s/GB', (s) => ({ segments: [{ name: 'user', value: s.cpuUserPerGb }, { name: 'sys', value: s.cpuSysPerGb }] })),
    }),
  });
  return charts;
}
