// Turns the request/response runs (lib/proxy-rr.mjs) into
// bench/results/<name>.md and SVG charts: per scenario and relay the median
// req/s, relay CPU-seconds per million requests and latency (with what the
// relay adds over the direct connection), zerocopy's ratios to HAProxy, and
// syscalls per round trip.

import { environmentTable, formatNumber, formatRatio, markdownTable, median, ratio } from './report.mjs';
import { scenarioLabel } from './proxy-rr.mjs';
import { heavyLoadWarning } from './load.mjs';
import { renderBarChart } from './svg-chart.mjs';

const key = (scenario) => scenarioLabel(scenario);

/** Medians per (scenario, relay): Map<scenarioLabel, Map<proxyId, summary>>. */
export function summarizeRr(records) {
  const groups = new Map();
  for (const record of records) {
    const byProxy = groups.get(key(record.scenario)) ?? new Map();
    groups.set(key(record.scenario), byProxy);
    byProxy.set(record.proxy, [...(byProxy.get(record.proxy) ?? []), record]);
  }
  const summaries = new Map();
  for (const [label, byProxy] of groups) {
    const out = new Map();
    for (const [proxy, list] of byProxy) {
      const ok = list.filter((r) => r.outcome === 'ok');
      out.set(proxy, {
        runs: ok.length,
        attempted: list.length,
        reasons: [...new Set(list.filter((r) => r.outcome !== 'ok').map((r) => r.reason))],
        reqPerSec: median(ok.map((r) => r.requests / r.seconds)),
        cpuPerMillion: median(ok.map((r) => (r.userSeconds == null ? null : (r.userSeconds + r.sysSeconds) / (r.requests / 1e6)))),
        p50Us: median(ok.map((r) => r.p50Us)),
        p99Us: median(ok.map((r) => r.p99Us)),
      });
    }
    summaries.set(label, out);
  }
  return summaries;
}

/** Syscalls per round trip of one trace record: 'read 2, sendto 2, …' and the total. */
function perRoundTrip(trace) {
  if (trace.outcome !== 'ok' || trace.requests === 0) return null;
  const rows = trace.syscalls.map((r) => ({ ...r, per: r.calls / trace.requests })).filter((r) => r.per >= 0.05);
  return { rows, total: rows.reduce((sum, r) => sum + r.per, 0) };
}

/**
 * Builds the report. `scenarios` in run order, `proxies` the registry
 * entries that took part, `unavailable` id → reason.
 */
export function buildRrReport({ title, environment, otherLoad, settings, scenarios, proxies, unavailable, records, traces }) {
  const summaries = summarizeRr(records);
  const label = (id) => proxies.find((p) => p.id === id)?.label ?? id;
  const warning = heavyLoadWarning(otherLoad);
  const lines = [...(warning ? [warning, ''] : []), `# ${title}`, '', environmentTable(environment), ''];
  lines.push(
    `Each relay sat between rrclient (bench/clients/rrclient.c) and an echo upstream (the same program): every connection keeps`,
    `*depth* requests of *size* bytes in flight and sends the next as soon as a whole response is back; every response byte is`,
    `checked. ${settings.seconds} s counted after ${settings.warmupSeconds} s of warm-up, ${settings.runs} run(s) per relay and scenario, order rotated;`,
    'medians. Relay CPU is user+sys of its process group from /proc over exactly the counted window. Latency is per request,',
    'send to last response byte; "added" is the relay\'s p50/p99 minus the direct connection\'s in the same scenario.',
    '',
  );
  for (const [id, reason] of unavailable) lines.push(`- ${label(id)}: not available (${reason})`);
  if (unavailable.size) lines.push('');

  // Overview: req/s and CPU per million requests, zerocopy against HAProxy.
  const haproxyIds = ['haproxy-tcp', 'haproxy'].filter((id) => proxies.some((p) => p.id === id));
  const overview = [];
  for (const scenario of scenarios) {
    const s = summaries.get(key(scenario)) ?? new Map();
    const z = s.get('zerocopy');
    const row = [key(scenario)];
    for (const p of proxies) row.push(formatNumber(s.get(p.id)?.reqPerSec));
    for (const h of haproxyIds) {
      const peer = s.get(h);
      row.push(`${formatRatio(ratio(z?.reqPerSec, peer?.reqPerSec))} / ${formatRatio(ratio(z?.cpuPerMillion, peer?.cpuPerMillion))}`);
    }
    overview.push(row);
  }
  lines.push('## Requests per second (median)', '');
  lines.push(markdownTable([
    { title: 'scenario' },
    ...proxies.map((p) => ({ title: p.label, align: 'right' })),
    ...haproxyIds.map((h) => ({ title: `zerocopy / ${label(h)}: req/s / CPU per request`, align: 'right' })),
  ], overview), '');

  lines.push('## Relay CPU-seconds per million requests, and latency (median)', '');
  const detail = [];
  for (const scenario of scenarios) {
    const s = summaries.get(key(scenario)) ?? new Map();
    const direct = s.get('direct');
    for (const p of proxies) {
      const m = s.get(p.id);
      if (!m) continue;
      // A relay's p99 can come out below the direct one's when the direct run's
      // tail was noise; the difference is shown with its sign, not as an addition.
      const added = (value, base) => {
        if (value == null || base == null || p.id === 'direct') return '';
        const delta = value - base;
        return delta >= 0 ? ` (+${formatNumber(delta)})` : ` (−${formatNumber(-delta)})`;
      };
      detail.push([
        key(scenario),
        p.label,
        m.runs === 0 ? `failed: ${m.reasons.join('; ')}` : formatNumber(m.reqPerSec),
        formatNumber(m.cpuPerMillion),
        `${formatNumber(m.p50Us)}${added(m.p50Us, direct?.p50Us)}`,
        `${formatNumber(m.p99Us)}${added(m.p99Us, direct?.p99Us)}`,
      ]);
    }
  }
  lines.push(markdownTable([
    { title: 'scenario' }, { title: 'relay' }, { title: 'req/s', align: 'right' },
    { title: 'CPU-s / 1M req', align: 'right' }, { title: 'p50 µs (added)', align: 'right' }, { title: 'p99 µs (added)', align: 'right' },
  ], detail), '');

  if (traces.length > 0) {
    lines.push('## Syscalls per round trip (strace -f -c, separate untimed run)', '');
    const rows = [];
    for (const trace of traces) {
      const per = perRoundTrip(trace);
      rows.push([
        key(trace.scenario),
        label(trace.proxy),
        per ? formatNumber(per.total) : `${trace.outcome}: ${trace.reason}`,
        per ? per.rows.slice(0, 8).map((r) => `${r.syscall} ${formatNumber(r.per)}${r.errors ? ` (${formatNumber(r.errors / trace.requests)} failed)` : ''}`).join(', ') : '',
      ]);
    }
    lines.push(markdownTable([{ title: 'scenario' }, { title: 'relay' }, { title: 'total', align: 'right' }, { title: 'per round trip' }], rows), '');
    lines.push('Counts include every call the relay made while the trace ran, clock reads that strace sees among them.', '');
  }

  lines.push('## Every run', '');
  lines.push(markdownTable(
    [{ title: 'scenario' }, { title: 'relay' }, { title: 'run', align: 'right' }, { title: 'result' }],
    records.map((r) => [key(r.scenario), label(r.proxy), String(r.run), r.outcome === 'ok'
      ? `${formatNumber(r.requests / r.seconds)} req/s, p50 ${r.p50Us} µs, p99 ${r.p99Us} µs${r.userSeconds == null ? '' : `, CPU ${formatNumber(r.userSeconds + r.sysSeconds)} s`}`
      : `${r.outcome}: ${r.reason}`]),
  ), '');

  const panels = (metric, unit) => scenarios.map((scenario) => {
    const s = summaries.get(key(scenario)) ?? new Map();
    return {
      title: key(scenario),
      unit,
      bars: proxies.filter((p) => metric !== 'cpuPerMillion' || p.command).map((p) => {
        const m = s.get(p.id);
        const value = m?.[metric] ?? null;
        return { label: p.label, value, ...(value == null ? { missing: m ? 'failed' : 'not run' } : {}) };
      }),
    };
  });
  const labels = proxies.map((p) => p.label);
  const charts = [
    { suffix: 'req-per-sec', svg: renderBarChart({ title: 'Requests per second through each relay (median)', subtitle: 'more is better', panels: panels('reqPerSec', 'req/s'), labels }) },
    { suffix: 'cpu-per-million', svg: renderBarChart({ title: 'Relay CPU-seconds per million requests (median)', subtitle: 'less is better', panels: panels('cpuPerMillion', 'CPU-s'), labels }) },
  ];
  return { markdown: lines.join('\n'), charts };
}
