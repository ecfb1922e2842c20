/**
 * Real files for tests: random contents, known hashes, cleaned up after.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Fixture {
  path: string;
  size: number;
  sha256: string;
}

/** A fresh directory under the OS temp dir; `remove()` deletes it. */
export function makeTempDir(prefix = 'zerocopy-test-'): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const CHUNK_BYTES = 4 << 20;

/** Writes `size` random bytes to `dir/name` and returns its hash. */
export function makeRandomFile(dir: string, name: string, size: number): Fixture {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  const hash = crypto.createHash('sha256');
  try {
    // One random block repeated with a varying counter: fast for 256 MiB and
    // still position-dependent, so a byte at the wrong offset changes the hash.
    const block = crypto.randomBytes(Math.min(CHUNK_BYTES, Math.max(size, 1)));
    for (let written = 0, n = 0; written < size; n++) {
      const chunk = block.subarray(0, Math.min(block.length, size - written));
      if (chunk.length >= 4) chunk.writeUInt32LE(n, 0);
      fs.writeSync(fd, chunk);
      hash.update(chunk);
      written += chunk.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { path: file, size, sha256: hash.digest('hex') };
}

/** sha256 of bytes [start, end) of a file (end defaults to the file's size). */
export function hashFileRange(file: string, start = 0, end?: number): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const stop = end ?? fs.fstatSync(fd).size;
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let at = start; at < stop;) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, stop - at), at);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

export function sha256(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
