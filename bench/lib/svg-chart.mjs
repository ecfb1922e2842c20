// A dependency-free horizontal bar chart as SVG text.
//
// One chart per metric; inside it one panel per group (e.g. per file size),
// each panel scaled to its own maximum, because a 4 KiB file's GB/s and a
// 1 GiB file's differ by orders of magnitude and one shared axis would flatten
// the small ones. Every bar carries its value as text, so the chart never has
// to be read off an axis.
//
//   Title
//   subtitle
//   ── 64 MiB ─────────────────────────────
//   nginx (sendfile on)  ██████████████  3.1 GB/s
//   express.static       █████           1.0 GB/s
//   zerocopy serve       not available

import { formatNumber } from './report.mjs';

const WIDTH = 920;
const MARGIN = 16;
const LABEL_WIDTH = 220;
const BAR_MAX_WIDTH = 340; // leaves ~320 px for the value text of the longest bar
const ROW_HEIGHT = 22;
const BAR_HEIGHT = 15;
const PANEL_GAP = 14;

// Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442', '#999999'];
/** Colours for stacked segments such as user and sys CPU time. */
export const SEGMENT_COLORS = ['#56B4E9', '#0072B2', '#E69F00', '#009E73'];

function escapeXml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

/**
 * Renders the chart. Arguments:
 *   title, subtitle   text above the panels
 *   panels            [{ title, unit, bars: [{ label, value, segments, missing }] }]
 *                     value: number or null; segments: [{ name, value }] stacked
 *                     in order (value is then their sum); missing: text shown
 *                     instead of a bar (e.g. 'not available').
 *   labels            bar labels in a fixed order, so each one keeps its colour
 *                     in every panel and chart
 *   segmentNames      names of the stacked segments, for the legend
 * Returns the SVG document as a string.
 */
export function renderBarChart({ title, subtitle = '', panels, labels = [], segmentNames = [] }) {
  const colorOf = (label) => {
    let index = labels.indexOf(label);
    if (index < 0) index = labels.push(label) - 1;
    return PALETTE[index % PALETTE.length];
  };
  const parts = [];
  let y = MARGIN + 18;
  parts.push(`<text x="${MARGIN}" y="${y}" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  if (subtitle) {
    y += 18;
    parts.push(`<text x="${MARGIN}" y="${y}" font-size="12" fill="#444">${escapeXml(subtitle)}</text>`);
  }
  if (segmentNames.length > 0) {
    y += 20;
    let x = MARGIN;
    segmentNames.forEach((name, i) => {
      parts.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${SEGMENT_COLORS[i % SEGMENT_COLORS.length]}"/>`);
      parts.push(`<text x="${x + 16}" y="${y}" font-size="12">${escapeXml(name)}</text>`);
      x += 30 + name.length * 7;
    });
  }
  y += 8;

  for (const panel of panels) {
    y += PANEL_GAP + 12;
    parts.push(`<text x="${MARGIN}" y="${y}" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
    parts.push(`<line x1="${MARGIN}" y1="${y + 5}" x2="${WIDTH - MARGIN}" y2="${y + 5}" stroke="#ccc"/>`);
    y += 8;
    const totals = panel.bars.map(barTotal);
    const max = Math.max(0, ...totals.filter((t) => t != null)) || 1;
    panel.bars.forEach((bar, i) => {
      const rowTop = y + i * ROW_HEIGHT;
      const barTop = rowTop + (ROW_HEIGHT - BAR_HEIGHT) / 2;
      const textY = rowTop + ROW_HEIGHT / 2 + 4;
      const barX = MARGIN + LABEL_WIDTH;
      parts.push(`<text x="${barX - 8}" y="${textY}" font-size="12" text-anchor="end">${escapeXml(bar.label)}</text>`);
      const total = totals[i];
      if (total == null) {
        parts.push(`<text x="${barX}" y="${textY}" font-size="12" fill="#888" font-style="italic">${escapeXml(bar.missing ?? 'no data')}</text>`);
        return;
      }
      let x = barX;
      const segments = bar.segments ?? [{ name: null, value: total }];
      segments.forEach((segment, s) => {
        const width = (segment.value / max) * BAR_MAX_WIDTH;
        const fill = bar.segments ? SEGMENT_COLORS[s % SEGMENT_COLORS.length] : colorOf(bar.label);
        const tip = segment.name ? `${bar.label}: ${segment.name} ${formatNumber(segment.value)} ${panel.unit}` : `${bar.label}: ${formatNumber(total)} ${panel.unit}`;
        parts.push(`<rect x="${x.toFixed(1)}" y="${barTop}" width="${Math.max(width, 0.5).toFixed(1)}" height="${BAR_HEIGHT}" fill="${fill}"><title>${escapeXml(tip)}</title></rect>`);
        x += width;
      });
      const detail = bar.segments ? ` (${bar.segments.map((s) => `${s.name} ${formatNumber(s.value)}`).join(' + ')})` : '';
      parts.push(`<text x="${(x + 6).toFixed(1)}" y="${textY}" font-size="12">${escapeXml(`${formatNumber(total)} ${panel.unit}${detail}`)}</text>`);
    });
    y += panel.bars.length * ROW_HEIGHT;
  }
  const height = y + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function barTotal(bar) {
  if (bar.segments) return bar.segments.every((s) => Number.isFinite(s.value)) ? bar.segments.reduce((sum, s) => sum + s.value, 0) : null;
  return Number.isFinite(bar.value) ? bar.value : null;
}
