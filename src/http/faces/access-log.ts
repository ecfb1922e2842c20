/**
 * Access log lines in Common Log Format (the NCSA format nginx and Apache
 * write by default), with the body bytes and one extra field, the path that
 * moved the body:
 *
 *   127.0.0.1 - - [25/Nov/2026:21:37:56 +0000] "GET /video.mp4 HTTP/1.1" 206 1048576 sendfile
 *   host      ident user [time]                 "request line"           status bytes method
 *
 * `bytes` is `-` when no body byte was sent (CLF's rule). Lines are buffered
 * and written in batches: one write(2) per request would cost as much as
 * the small-file response itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { responseBodyOf, type ResponseBodyMethod } from '../pipeline/response-info.js';

/** One logged response, the fields both formats are built from. */
export interface AccessLogEntry {
  remoteAddress: string;
  /** When the request started, ms since the epoch. */
  time: number;
  method: string;
  url: string;
  httpVersion: string;
  status: number;
  bytes: number;
  bodyMethod: ResponseBodyMethod;
  durationMs: number;
  /** False when the connection closed before the response was complete. */
  completed: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `[10/Oct/2000:13:55:36 -0700]`: CLF time, in the server's local zone. */
export function formatClfTime(ms: number): string {
  const d = new Date(ms);
  const offsetMinutes = -d.getTimezoneOffset();
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `[${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}]`;
}

// A request line is client input: quotes, backslashes and anything outside
// printable ASCII become \xHH (Apache's escaping), so a crafted URL cannot
// forge a second log line or break the quoted field.
function escapeLogField(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The CLF line of `entry` (no trailing newline). */
export function formatCommonLogLine(entry: AccessLogEntry): string {
  const request = escapeLogField(`${entry.method} ${entry.url} HTTP/${entry.httpVersion}`);
  const bytes = entry.bytes > 0 ? String(entry.bytes) : '-';
  const method = entry.completed ? entry.bodyMethod : `${entry.bodyMethod}(aborted)`;
  return `${entry.remoteAddress || '-'} - - ${formatClfTime(entry.time)} "${request}" ${entry.status} ${bytes} ${method}`;
}

/** The same entry as one JSON line (`--json`). */
export function formatJsonLogLine(entry: AccessLogEntry): string {
  return JSON.stringify({ ...entry, time: new Date(entry.time).toISOString() });
}

/** Builds the entry of a finished (or aborted) response. */
export function accessLogEntry(req: IncomingMessage, res: ServerResponse, startedAt: number): AccessLogEntry {
  const body = responseBodyOf(res);
  return {
    remoteAddress: req.socket?.remoteAddress ?? '-',
    time: startedAt,
    method: req.method ?? '-',
    url: (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '-',
    httpVersion: req.httpVersion,
    status: res.statusCode,
    bytes: body?.bytes ?? 0,
    bodyMethod: body?.method ?? 'none',
    durationMs: Date.now() - startedAt,
    completed: res.writableFinished && body?.error === undefined,
  };
}

/** Flush at least this often, so `tail -f` stays live. */
const FLUSH_INTERVAL_MS = 200;
/** Flush early once this much text is waiting. */
const FLUSH_THRESHOLD_BYTES = 64 << 10;

/** Where log text goes: a stream, or any function taking a chunk. */
export type LogSink = NodeJS.WritableStream | ((chunk: string) => void);

/**
 * A batching line writer. `write(line)` queues; text reaches the sink every
 * FLUSH_INTERVAL_MS or at FLUSH_THRESHOLD_BYTES, and on `flush()`/`close()`.
 * The timer is unref'd: an idle log never keeps the process alive.
 */
export class AccessLog {
  private readonly sink: LogSink;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(sink: LogSink) {
    this.sink = sink;
  }

  write(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length + 1;
    if (this.pendingBytes >= FLUSH_THRESHOLD_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.pendingBytes = 0;
    if (typeof this.sink === 'function') this.sink(text);
    else this.sink.write(text);
  }

  close(): void {
    this.flush();
  }
}
