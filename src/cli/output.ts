/**
 * Terminal output shared by the subcommands: errors in one format, byte and
 * rate formatting, and a progress line that redraws in place on a TTY.
 */
import { systemErrorMap } from '../native/errno.js';

/**
 * Prints `zerocopy: message` (or `zerocopy <command>: message`) to stderr.
 * The convention: usage mistakes name the command, so the user knows which
 * `--help` to read (`zerocopy cp: missing destination`); failures at run time
 * do not (`zerocopy: 'f' and 'f' are the same file`).
 */
export function printError(message: string, command?: string): void {
  console.error(`zerocopy${command ? ` ${command}` : ''}: ${message}`);
}

/** Prints a one-line warning to stderr (`zerocopy: warning: ...`). */
export function printWarning(message: string): void {
  console.error(`zerocopy: warning: ${message}`);
}

interface SystemErrorLike {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

function isSystemError(error: unknown): error is Error & SystemErrorLike {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof Error && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

/**
 * A system error in words: `no such file or directory (ENOENT)`. The
 * description is libuv's (util.getSystemErrorMap), the code stays for
 * searching and scripts; the caller says what was being done and to what.
 */
export function describeSystemError(error: Error & SystemErrorLike): string {
  const fromMap = typeof error.errno === 'number' ? systemErrorMap().get(error.errno)?.[1] : undefined;
  return `${fromMap ?? error.message} (${error.code})`;
}

/** The message for an error: system errors in words with their code, the rest as they are. */
export function describeError(error: unknown): string {
  if (isSystemError(error)) return describeSystemError(error);
  if (error instanceof Error) return error.message;
  return String(error);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** Seconds → "1:05" or "1:02:03". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** Redraw interval: often enough to look live, rarely enough to cost nothing. */
const PROGRESS_INTERVAL_MS = 100;
const BAR_WIDTH = 30;

/** A one-line progress bar on a TTY stream (bytes, rate, ETA). */
export class ProgressLine {
  private readonly stream: NodeJS.WriteStream;
  private readonly total: number;
  private readonly started = Date.now();
  private lastDraw = 0;

  constructor(stream: NodeJS.WriteStream, total: number) {
    this.stream = stream;
    this.total = total;
  }

  update(done: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < PROGRESS_INTERVAL_MS) return;
    this.lastDraw = now;
    const seconds = Math.max((now - this.started) / 1000, 1e-3);
    const rate = done / seconds;
    const fraction = this.total > 0 ? Math.min(done / this.total, 1) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
      `${formatBytes(done)} / ${formatBytes(this.total)}  ${formatBytes(rate)}/s  ETA ${formatDuration(eta)}`;
    this.stream.write(`\r${line}\x1b[K`);
  }

  finish(): void {
    this.stream.write('\n');
  }
}
