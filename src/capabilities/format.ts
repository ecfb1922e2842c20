/**
 * The capability report in words: the doctor's table, and the one line a
 * server prints at startup.
 *
 *   ok           sendfile(2)
 *   unavailable  kTLS (TCP_ULP "tls")                 ENOENT: the kernel is built without it
 *                → HTTPS is encrypted in user space: TLS sockets get their bodies by copy, not sendfile.
 */
import type { CapabilityCheck, CapabilityReport, InterfaceReport } from './report.js';

const STATUS_WIDTH = 13;
const TITLE_WIDTH = 44;

function why(check: CapabilityCheck): string {
  const parts = [check.value, check.errno && check.reason ? `${check.errno}: ${check.reason}` : check.reason].filter(Boolean);
  return parts.join(' — ');
}

function line(status: string, title: string, detail: string): string {
  return `${status.padEnd(STATUS_WIDTH)}${detail ? title.padEnd(TITLE_WIDTH) : title}${detail}`.trimEnd();
}

function flag(value: boolean | null): string {
  return value === null ? '?' : value ? 'on' : 'off';
}

function interfaceLine(i: InterfaceReport): string[] {
  const status = i.zeroCopyTransmit === null ? 'unknown' : i.zeroCopyTransmit && !i.loopback ? 'ok' : 'unavailable';
  const offloads = `sg ${flag(i.scatterGather)}, tx-csum ${flag(i.txChecksum)}, tso ${flag(i.tso)}, gso ${flag(i.gso)}`;
  const lines = [line(status, `interface ${i.name}${i.operstate ? ` (${i.operstate})` : ''}`, offloads)];
  if (i.reason) lines.push(`${' '.repeat(STATUS_WIDTH)}→ ${i.reason}`);
  return lines;
}

/**
 * The doctor's table: a header line, one line per check (status, what, what
 * was found or why not) and, for each that is not ok, a line saying what it
 * costs; then one line per network interface.
 */
export function formatCapabilityReport(report: CapabilityReport): string {
  const h = report.host;
  const lines = [`zerocopy ${h.zerocopy} on ${h.platform} ${h.kernel} ${h.arch}, Node ${h.node}${h.uid === null ? '' : `, uid ${h.uid}`}`, ''];
  for (const check of report.checks) {
    lines.push(line(check.status, check.title, why(check)));
    if (check.status !== 'ok' && check.impact) lines.push(`${' '.repeat(STATUS_WIDTH)}→ ${check.impact}`);
  }
  if (report.interfaces.length > 0) {
    lines.push('', 'Zero-copy transmission needs a NIC with scatter-gather and TX checksum offload:');
    for (const i of report.interfaces) lines.push(...interfaceLine(i));
  }
  return lines.join('\n');
}

/** Paths the servers use, in the order a startup line names them. */
const SUMMARY_IDS = ['sendfile', 'splice', 'copy_file_range', 'msg_zerocopy_tcp', 'io_uring_send_zc', 'ktls', 'openat2_resolve_beneath', 'pipe_size'];

/**
 * One line for a server's startup log: which zero-copy paths are on, which
 * are not (with the errno or value), e.g.
 * "zero-copy: sendfile, splice, copy_file_range, msg_zerocopy_tcp; off: ktls (ENOENT); limited: pipe_size (64 KiB (asked 1 MiB))".
 */
export function summarizeCapabilities(report: CapabilityReport): string {
  if (!report.native.loaded) return `zero-copy: off (${report.native.reason ?? 'no native addon'}): transfers copy through user space`;
  const by = new Map(report.checks.map((c) => [c.id, c]));
  const on: string[] = [];
  const off: string[] = [];
  const limited: string[] = [];
  for (const id of SUMMARY_IDS) {
    const c = by.get(id);
    if (c === undefined) continue;
    if (c.status === 'ok') on.push(id);
    else if (c.status === 'limited') limited.push(`${id} (${c.value ?? c.reason ?? 'limited'})`);
    else off.push(`${id} (${c.errno ?? c.status})`);
  }
  return [`zero-copy: ${on.join(', ') || 'none'}`, off.length ? `off: ${off.join(', ')}` : '', limited.length ? `limited: ${limited.join(', ')}` : '']
    .filter(Boolean)
    .join('; ');
}
