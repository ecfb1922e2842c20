// Statistics and Markdown output shared by the benchmark reports.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_DIR, RESULTS_DIR, displayPath } from './paths.mjs';

/** Decimal units, as network throughput is usually quoted: 1 GB = 10^9 bytes. */
export const BYTES_PER_GB = 1e9;

/** Median of the finite numbers in `values`, or null if there are none. */
export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The median of `total(item)` together with a split of it into parts that
 * add up exactly: the parts are those of the middle item (odd count) or the
 * mean of the two middle items' parts (even count), by total. Used for
 * "user + sys" so that the two shown halves always sum to the shown median.
 * Returns { total, parts: { name: value } } or null when no item has a total.
 */
export function medianWithSplit(items, total, partNames) {
  const sorted = items.filter((item) => Number.isFinite(total(item))).sort((a, b) => total(a) - total(b));
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  const middle = sorted.length % 2 ? [sorted[mid]] : [sorted[mid - 1], sorted[mid]];
  const mean = (pick) => middle.reduce((sum, item) => sum + pick(item), 0) / middle.length;
  return { total: mean(total), parts: Object.fromEntries(partNames.map((name) => [name, mean((item) => item[name])])) };
}

/** a / b, or null when either is missing or b is zero. */
export function ratio(a, b) {
  return a == null || b == null || b === 0 ? null : a / b;
}

/**
 * Human formatting with three significant digits: 28811 → '28,811',
 * 1.2345 → '1.23', 0.012345 → '0.0123'; null → '–'.
 */
export function formatNumber(value, digits = 3) {
  if (value == null || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 10 ** digits) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toString();
}

/** A ratio as '1.23×'; null → '–'. */
export function formatRatio(value) {
  return value == null ? '–' : `${formatNumber(value)}×`;
}

/**
 * A GitHub-flavoured Markdown table. `columns` is [{ title, align }] with
 * align 'left' | 'right'; `rows` holds already formatted cell strings.
 */
export function markdownTable(columns, rows) {
  const escape = (cell) => String(cell).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells) => `| ${cells.map(escape).join(' | ')} |`;
  return [
    line(columns.map((c) => c.title)),
    `|${columns.map((c) => (c.align === 'right' ? ' ---: ' : ' :--- ')).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

/** The environment block: facts from describeEnvironment() as a two-column table. */
export function environmentTable(facts) {
  return markdownTable([{ title: 'Environment' }, { title: '' }], facts.map(([k, v]) => [k, v]));
}

// Error text captured from servers (stack traces, nginx messages) can carry
// this machine's checkout path; committed results show repository-relative
// paths instead.
function withoutCheckoutPath(text) {
  return text.split(`${REPO_DIR.replace(/\/$/, '')}/`).join('');
}

/**
 * Writes bench/results/<name>.md and bench/results/<name>-<suffix>.svg for
 * each chart; returns the written paths relative to the repository.
 */
export function writeResults(name, markdown, charts = []) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const written = [];
  for (const { suffix, svg } of charts) {
    const file = join(RESULTS_DIR, `${name}-${suffix}.svg`);
    writeFileSync(file, withoutCheckoutPath(svg));
    written.push(displayPath(file));
  }
  const file = join(RESULTS_DIR, `${name}.md`);
  writeFileSync(file, withoutCheckoutPath(markdown.endsWith('\n') ? markdown : `${markdown}\n`));
  written.unshift(displayPath(file));
  return written;
}

/** Raw per-run records, kept next to the report for anyone re-analysing them. */
export function writeRawJson(name, data) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, withoutCheckoutPath(`${JSON.stringify(data, null, 2)}\n`));
  return displayPath(file);
}

/** Reads back what writeRawJson wrote, for redrawing a report without measuring. */
export function readRawJson(name) {
  return JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8'));
}
