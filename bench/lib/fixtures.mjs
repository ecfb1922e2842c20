// Fixture files served by every HTTP server under test: random bytes (so no
// layer can compress or dedupe them), created once under bench/.work/fixtures
// and reused by later runs.

import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { WORK_DIR } from './paths.mjs';

/** The directory every HTTP server serves as its root. */
export const FIXTURE_DIR = join(WORK_DIR, 'fixtures');
const HASHES_FILE = join(WORK_DIR, 'fixture-hashes.json');
const CHUNK_BYTES = 1 << 20;

const UNIT_BYTES = { k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** Parses '4k', '64m', '1g' (binary units: KiB, MiB, GiB) or a plain byte count. */
export function parseSize(text) {
  const match = /^(\d+)([kmg]?)(i?b)?$/i.exec(String(text).trim());
  if (!match) throw new Error(`bad size ${JSON.stringify(text)} (use e.g. 4k, 1m, 64m, 1g)`);
  const bytes = Number(match[1]) * (UNIT_BYTES[match[2].toLowerCase()] ?? 1);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new Error(`size ${JSON.stringify(text)} must be at least 1 byte`);
  return bytes;
}

/** 4096 → '4 KiB', 1073741824 → '1 GiB'. */
export function formatSize(bytes) {
  for (const [unit, size] of [['GiB', 1 << 30], ['MiB', 1 << 20], ['KiB', 1 << 10]]) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} B`;
}

/** 4096 → '4k', 67108864 → '64m': the fixture's file stem. */
export function sizeName(bytes) {
  for (const [unit, size] of [['g', 1 << 30], ['m', 1 << 20], ['k', 1 << 10]]) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}b`;
}

/**
 * Makes sure a random fixture of each size exists, then reads each one once
 * so it sits in the page cache (the benchmarks measure serving, not disk).
 * Returns [{ bytes, label, file, urlPath, sha256 }] in the order given.
 */
export function ensureFixtures(sizes, log = () => {}) {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const hashes = existsSync(HASHES_FILE) ? JSON.parse(readFileSync(HASHES_FILE, 'utf8')) : {};
  const fixtures = sizes.map((bytes) => {
    const name = `${sizeName(bytes)}.bin`;
    const file = join(FIXTURE_DIR, name);
    const known = hashes[name];
    const stat = existsSync(file) ? statSync(file) : null;
    let sha256;
    if (stat && known && stat.size === bytes && known.mtimeMs === stat.mtimeMs) {
      sha256 = known.sha256;
      warmPageCache(file);
    } else {
      log(`creating fixture ${name} (${formatSize(bytes)} of random data)`);
      sha256 = writeRandomFile(file, bytes);
      hashes[name] = { sha256, mtimeMs: statSync(file).mtimeMs };
    }
    return { bytes, label: formatSize(bytes), file, urlPath: `/${name}`, sha256 };
  });
  writeFileSync(HASHES_FILE, `${JSON.stringify(hashes, null, 2)}\n`);
  return fixtures;
}

// Writes to a temporary name and renames, so an interrupted run never leaves
// a short fixture behind under the real name, and a harness running at the
// same time never reads a half-written one. Returns the sha256 (hex).
function writeRandomFile(file, bytes) {
  const partial = `${file}.${process.pid}.partial`;
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const fd = openSync(partial, 'w');
  try {
    for (let done = 0; done < bytes; ) {
      const part = chunk.subarray(0, Math.min(CHUNK_BYTES, bytes - done));
      randomFillSync(part);
      hash.update(part);
      for (let off = 0; off < part.length; ) off += writeSync(fd, part, off);
      done += part.length;
    }
  } finally {
    closeSync(fd);
  }
  renameSync(partial, file);
  return hash.digest('hex');
}

function warmPageCache(file) {
  const chunk = Buffer.allocUnsafe(4 * CHUNK_BYTES);
  const fd = openSync(file, 'r');
  try {
    while (readSync(fd, chunk, 0, chunk.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}
