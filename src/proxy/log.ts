/**
 * What the proxy reports, one record per event, and how a record becomes a
 * log line. The proxy itself never prints: it hands records to `onLog`, and
 * the CLI formats them (text on a terminal, JSON lines with `--json`).
 *
 * Text form (logfmt: key=value, greppable):
 *
 *   2026-11-25T21:00:00.000Z connection id=7 client=127.0.0.1:51234 upstream=127.0.0.1:9000
 *     method=splice to_upstream=1048576 to_client=2048 duration_ms=12.3 connect_ms=0.4 outcome=closed
 *   2026-11-25T21:00:01.000Z upstreams-down id=8 client=127.0.0.1:51236
 *     tried="127.0.0.1:9000 ECONNREFUSED, 127.0.0.1:9001 ZC_ERR_CONNECT_TIMEOUT" (client closed)
 *
 * (each record is one line; wrapped here for width.)
 */
import type { RelayCopyReason } from '../transfer/relay.js';

/** How a connection ended. */
export type ConnectionOutcome =
  /** Both directions reached EOF: a clean close. */
  | 'closed'
  /** A peer reset or vanished (ECONNRESET, EPIPE, …); the other side was torn down. */
  | 'reset'
  /** No byte moved either way for `idleTimeout` ms. */
  | 'idle-timeout'
  /** `close()`'s drain deadline passed while the connection was live. */
  | 'drain-deadline'
  /** No upstream accepted; the client was closed without a byte relayed. */
  | 'no-upstream'
  /** Anything else; `error` has the code. */
  | 'error';

/** Written when a connection closes: who, where, how much, how long, how. */
export interface ConnectionRecord {
  event: 'connection';
  /** ISO 8601 time of the close. */
  time: string;
  /** Per-proxy connection number, from 1. */
  id: number;
  /** The client's `address:port` (`[v6]:port`). */
  client: string;
  /** The upstream that carried the connection; null when none accepted. */
  upstream: string | null;
  /** Upstreams tried first and refused, as `address CODE`, in order. */
  failedUpstreams: string[];
  /** Bytes relayed client → upstream (a PROXY protocol header not included). */
  toUpstream: number;
  /** Bytes relayed upstream → client. */
  toClient: number;
  /** Of toUpstream + toClient, bytes that went through user space (small messages, bytes Node had read; all with method 'copy'). */
  copied: number;
  /** From accept to close, in ms. */
  durationMs: number;
  /** From accept to the upstream connect completing (failover included), in ms; null when none did. */
  connectMs: number | null;
  /** How the bytes moved: 'splice' (in the kernel) or 'copy' (through user space); null when nothing was relayed. */
  method: 'splice' | 'copy' | null;
  /** Why the relay copied (e.g. 'no-pipe': the pipe pool was exhausted). */
  copyReason?: RelayCopyReason;
  outcome: ConnectionOutcome;
  /** The error code behind `outcome` ('ECONNRESET', 'ZC_ERR_IDLE_TIMEOUT', …). */
  error?: string;
}

/** Written when every upstream refused or timed out for one client. */
export interface UpstreamsDownRecord {
  event: 'upstreams-down';
  time: string;
  id: number;
  client: string;
  /** Each upstream tried, as `address CODE`. */
  tried: string[];
}

/** Written when a client is turned away because `maxConnections` are live. */
export interface RejectedRecord {
  event: 'rejected';
  time: string;
  client: string;
  reason: 'max-connections';
  limit: number;
}

/** Written when accept(2) fails (EMFILE, ENFILE, …); the proxy keeps listening. */
export interface AcceptErrorRecord {
  event: 'accept-error';
  time: string;
  error: string;
}

export type ProxyLogRecord = ConnectionRecord | UpstreamsDownRecord | RejectedRecord | AcceptErrorRecord;

/** Quotes a logfmt value only when it needs it. */
function value(v: string | number): string {
  const text = String(v);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function pairs(entries: Array<[string, string | number | null | undefined]>): string {
  return entries
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined && entry[1] !== null)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
}

/** Milliseconds with 0.1 ms resolution: enough for a log, short to read. */
function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

/** One record as one line of logfmt text (no trailing newline). */
export function formatRecordText(record: ProxyLogRecord): string {
  switch (record.event) {
    case 'connection':
      return `${record.time} connection ${pairs([
        ['id', record.id],
        ['client', record.client],
        ['upstream', record.upstream ?? '-'],
        ['failed_upstreams', record.failedUpstreams.length ? record.failedUpstreams.join(', ') : undefined],
        ['method', record.method ?? '-'],
        ['copy_reason', record.copyReason],
        ['to_upstream', record.toUpstream],
        ['to_client', record.toClient],
        ['copied', record.method === 'splice' && record.copied > 0 ? record.copied : undefined],
        ['duration_ms', ms(record.durationMs)],
        ['connect_ms', record.connectMs === null ? '-' : ms(record.connectMs)],
        ['outcome', record.outcome],
        ['error', record.error],
      ])}`;
    case 'upstreams-down':
      return `${record.time} upstreams-down ${pairs([
        ['id', record.id],
        ['client', record.client],
        ['tried', record.tried.join(', ')],
      ])} (all upstreams down: client closed)`;
    case 'rejected':
      return `${record.time} rejected ${pairs([
        ['client', record.client],
        ['reason', record.reason],
        ['limit', record.limit],
      ])}`;
    case 'accept-error':
      return `${record.time} accept-error ${pairs([['error', record.error]])}`;
  }
}

/** One record as one JSON line (no trailing newline); durations rounded to 0.1 ms. */
export function formatRecordJson(record: ProxyLogRecord): string {
  if (record.event !== 'connection') return JSON.stringify(record);
  return JSON.stringify({
    ...record,
    durationMs: ms(record.durationMs),
    connectMs: record.connectMs === null ? null : ms(record.connectMs),
  });
}
