// The report of bench:http --sweep (lib/http-sweep.mjs): tables and charts
// of cost against concurrency, slow clients and --workers scaling.

import { formatSize } from './fixtures.mjs';
import { heavyLoadWarning } from './load.mjs';
import { BYTES_PER_GB, environmentTable, formatNumber, markdownTable, median } from './report.mjs';
import { renderBarChart } from './svg-chart.mjs';

function groupBy(records, keyOf) {
  const groups = new Map();
  for (const record of records) {
    const key = keyOf(record);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return groups;
}

const ok = (list) => list.filter((r) => r.outcome === 'ok');

/** Builds { markdown, charts }. `servers` are registry entries (id, label). */
export function buildSweepReport({ title, environment, otherLoad, settings, servers, records }) {
  const label = (id) => servers.find((s) => s.id === id)?.label ?? id;
  const warning = heavyLoadWarning(otherLoad);
  const out = [...(warning ? [warning, ''] : []), `# ${title}`, '', environmentTable(environment), ''];
  out.push(
    `Medians of ${settings.runs} run(s). Concurrency: wrk -t1 for ${settings.seconds} s after ${settings.warmupSeconds} s of warm-up, a fresh server`,
    'per run; CPU is user+sys of the server\'s process group over the timed window, RSS its peak (VmHWM). RSS per connection',
    'is the growth over the 1-connection run divided by the connections. RLIMIT_NOFILE raised to its hard limit for servers and wrk.',
    '',
  );

  const concurrency = ok(records.filter((r) => r.kind === 'concurrency' && !r.workers));
  const charts = [];
  for (const [bytes, list] of groupBy(concurrency, (r) => r.bytesPerFile)) {
    out.push(`## ${formatSize(bytes)}: cost against concurrency`, '');
    const rows = [];
    const byKey = groupBy(list, (r) => `${r.server}\0${r.connections}`);
    const summary = new Map();
    for (const [key, runs] of byKey) {
      summary.set(key, {
        reqPerSec: median(runs.map((r) => r.requests / r.seconds)),
        cpuUsPerReq: median(runs.map((r) => ((r.userSeconds + r.sysSeconds) / r.requests) * 1e6)),
        rssMiB: median(runs.map((r) => r.rssKiB / 1024)),
        p99Ms: median(runs.map((r) => r.latencyP99Ms)),
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
        errorKinds: sumErrorKinds(runs),
      });
    }
    const connectionCounts = [...new Set(list.map((r) => r.connections))].sort((a, b) => a - b);
    for (const server of servers) {
      const one = summary.get(`${server.id}\0${connectionCounts[0]}`);
      for (const n of connectionCounts) {
        const s = summary.get(`${server.id}\0${n}`);
        if (!s) continue;
        const perConnection = one && n > connectionCounts[0] ? ((s.rssMiB - one.rssMiB) * 1024) / (n - connectionCounts[0]) : null;
        rows.push([server.label, n.toLocaleString('en-US'), formatNumber(s.reqPerSec), formatNumber(s.cpuUsPerReq), formatNumber(s.rssMiB),
          perConnection == null ? '–' : formatNumber(perConnection), formatNumber(s.p99Ms), formatErrors(s.errors, s.errorKinds)]);
      }
    }
    out.push(markdownTable([
      { title: 'server' }, { title: 'connections', align: 'right' }, { title: 'req/s', align: 'right' }, { title: 'CPU µs/req', align: 'right' },
      { title: 'peak RSS MiB', align: 'right' }, { title: 'RSS KiB per added connection', align: 'right' }, { title: 'p99 ms', align: 'right' }, { title: 'errors (all runs)', align: 'right' },
    ], rows), '');
    charts.push({
      suffix: `cost-${formatSize(bytes).replace(' ', '').toLowerCase()}`,
      svg: renderBarChart({
        title: `${formatSize(bytes)}: server CPU µs per request against concurrency (median)`,
        subtitle: 'less is better; one panel per number of keep-alive connections',
        labels: servers.map((s) => s.label),
        panels: connectionCounts.map((n) => ({
          title: `${n.toLocaleString('en-US')} connections`,
          unit: 'µs/req',
          bars: servers.map((server) => {
            const s = summary.get(`${server.id}\0${n}`);
            return { label: server.label, value: s?.cpuUsPerReq ?? null, ...(s ? {} : { missing: 'not run or failed' }) };
          }),
        })),
      }),
    });
  }

  const slow = ok(records.filter((r) => r.kind === 'slow'));
  if (slow.length > 0) {
    out.push(`## ${settings.slowClients.toLocaleString('en-US')} slow clients, each reading ${formatSize(settings.slowFileBytes)} at ~${formatNumber(settings.slowBytesPerSecond / 1e6)} MB/s for ${settings.slowSeconds} s`, '');
    out.push('Loop lateness: how late a 10 ms timer fired (Node\'s `monitorEventLoopDelay` interval minus its 10 ms resolution; bench/peers/loop-delay-probe.mjs), Node servers only.', '');
    const rows = [];
    for (const [server, runs] of groupBy(slow, (r) => r.server)) {
      const gb = (r) => r.bytes / BYTES_PER_GB;
      rows.push([
        label(server),
        formatNumber(median(runs.map((r) => r.bytes / r.seconds / 1e6))),
        formatNumber(median(runs.map((r) => (r.userSeconds + r.sysSeconds) / gb(r)))),
        formatNumber(median(runs.map((r) => (r.userSeconds + r.sysSeconds) / r.seconds))),
        formatNumber(median(runs.map((r) => r.rssKiB / 1024))),
        runs[0].loopDelay ? `${formatNumber(median(runs.map((r) => r.loopDelay.p99Ms)))} / ${formatNumber(median(runs.map((r) => r.loopDelay.maxMs)))}` : '–',
        String(runs.reduce((sum, r) => sum + r.errors, 0)),
      ]);
    }
    out.push(markdownTable([
      { title: 'server' }, { title: 'MB/s delivered', align: 'right' }, { title: 'CPU-s/GB', align: 'right' }, { title: 'CPU cores busy', align: 'right' },
      { title: 'peak RSS MiB', align: 'right' }, { title: 'loop lateness p99 / max ms', align: 'right' }, { title: 'errors (all runs)', align: 'right' },
    ], rows), '');
  }

  const workers = ok(records.filter((r) => r.kind === 'concurrency' && r.workers));
  if (workers.length > 0) {
    // The smallest file of the run (4 KiB by default; whatever --sweep-sizes gave).
    out.push(`## zerocopy serve --workers N (${formatSize(workers[0].bytesPerFile)}, 100 connections)`, '');
    const rows = [];
    for (const [n, runs] of groupBy(workers, (r) => r.workers)) {
      rows.push([String(n), formatNumber(median(runs.map((r) => r.requests / r.seconds))), formatNumber(median(runs.map((r) => ((r.userSeconds + r.sysSeconds) / r.requests) * 1e6))), formatNumber(median(runs.map((r) => r.rssKiB / 1024)))]);
    }
    out.push(markdownTable([{ title: 'workers', align: 'right' }, { title: 'req/s', align: 'right' }, { title: 'CPU µs/req', align: 'right' }, { title: 'peak RSS MiB (all processes)', align: 'right' }], rows), '');
  }

  const failed = records.filter((r) => r.outcome !== 'ok');
  if (failed.length > 0) {
    out.push('## Runs that did not complete', '');
    out.push(markdownTable([{ title: 'kind' }, { title: 'server' }, { title: 'point' }, { title: 'why' }],
      failed.map((r) => [r.kind, label(r.server), r.connections ? `${r.connections} conn` : `${r.clients} clients`, `${r.outcome}: ${r.reason}`])), '');
  }
  return { markdown: out.join('\n'), charts };
}

/** Adds the runs' wrk error kinds; null when no run recorded them (older results). */
function sumErrorKinds(runs) {
  const kinds = runs.filter((r) => r.errorKinds);
  if (kinds.length === 0) return null;
  const total = {};
  for (const r of kinds) for (const [kind, n] of Object.entries(r.errorKinds)) total[kind] = (total[kind] ?? 0) + n;
  return total;
}

/** '4702 (read 4700, timeout 2)', or the bare count when the kinds are unknown. */
function formatErrors(errors, kinds) {
  if (!errors || !kinds) return String(errors);
  const parts = Object.entries(kinds).filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ${n}`);
  return parts.length ? `${errors} (${parts.join(', ')})` : String(errors);
}
