/**
 * An open-file cache, like nginx's open_file_cache: a hot path costs no
 * open/fstat/close per request. Entries hold an fd and its stats, plus the
 * contents for small files, and are trusted for `validMs` before a stat(2)
 * of the path checks they still describe the file there (same device and
 * inode, same size and mtime). A replaced file (new inode) gets a new entry;
 * the old fd closes once the last response using it is done.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { openBeneath, type OpenOptions, type Root } from './open-beneath.js';

const fstat = promisify(fs.fstat);
const close = promisify(fs.close);

/** Defaults: nginx-like sizes; 1 s keeps edits visible quickly. */
export const DEFAULT_MAX_ENTRIES = 1024;
export const DEFAULT_VALID_MS = 1000;
/**
 * Files at most this many bytes are served from memory (one writev of head +
 * body) instead of with sendfile. Measured (wrk -c32 over loopback, Node 20,
 * Linux 6.18, 2 cores; serveStatic with headerMode 'prefix'), req/s and server
 * CPU µs per request, memory vs sendfile:
 *
 *     4 KiB  19.8k / 41 µs   vs  9.9k / 91 µs    memory 2x
 *    64 KiB  10.5k / 87 µs   vs  6.7k / 129 µs   memory 1.6x
 *   128 KiB   7.3k / 110 µs  vs  6.4k / 134 µs   memory 1.15x
 *   256 KiB   5.1k / 129 µs  vs  6.0k / 163 µs   mixed: sendfile more req/s, memory less CPU
 *     1 MiB   1.8k / 360 µs  vs  2.5k / 312 µs   sendfile 1.4x
 *
 * The sendfile path has a fixed cost per response (two dups, an fstat, page
 * residency probes, the job and its promise: ~50 µs here) that a small body
 * never earns back; the break-even sits between 128 and 256 KiB. The lower
 * end is taken: it bounds memory (the 64 MiB budget holds 512 such files) and
 * keeps the zero-copy path wherever the two tie. On a real NIC sendfile also
 * saves the copy loopback cannot, which only moves the break-even down.
 */
export const DEFAULT_MAX_CONTENT_BYTES = 128 << 10;
export const DEFAULT_MAX_TOTAL_CONTENT_BYTES = 64 << 20;

export interface FileCacheOptions {
  /** Entries kept open; 0 turns the cache off (open and close per request). */
  maxEntries?: number;
  validMs?: number;
  /** Largest file kept in memory (0: none). */
  maxContentBytes?: number;
  /** Memory budget for all cached contents. */
  maxTotalContentBytes?: number;
}

/** A file ready to serve. Call `release()` exactly once when the response is done. */
export interface OpenFile {
  fd: number;
  stats: fs.Stats;
  /** The whole file, when it is small enough to be kept in memory. */
  content?: Buffer;
  release(): void;
}

interface Entry {
  key: string;
  fd: number;
  stats: fs.Stats;
  content?: Buffer | undefined;
  validatedAt: number;
  refs: number;
  evicted: boolean;
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

async function readWhole(fd: number, size: number): Promise<Buffer | undefined> {
  const buffer = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const n = await new Promise<number>((resolve, reject) => {
      fs.read(fd, buffer, at, size - at, at, (error, bytes) => (error ? reject(error) : resolve(bytes)));
    });
    if (n === 0) return undefined; // shrank since fstat: do not cache a short copy
    at += n;
  }
  return buffer;
}

export class FileCache {
  private readonly entries = new Map<string, Entry>();
  private readonly opening = new Map<string, Promise<Entry>>();
  private readonly root: Root;
  private readonly maxEntries: number;
  private readonly validMs: number;
  private readonly maxContentBytes: number;
  private readonly maxTotalContentBytes: number;
  private contentBytes = 0;
  /** Counters for tests and metrics. */
  readonly stats = { hits: 0, misses: 0, revalidations: 0, replaced: 0 };

  constructor(root: Root, options: FileCacheOptions = {}) {
    this.root = root;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.validMs = options.validMs ?? DEFAULT_VALID_MS;
    this.maxContentBytes = options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
    this.maxTotalContentBytes = options.maxTotalContentBytes ?? DEFAULT_MAX_TOTAL_CONTENT_BYTES;
  }

  /**
   * The file at `relative` beneath the root, opened (or reused) and stat'ed.
   * Rejects with the open's system error (ENOENT, EXDEV for an escape, …).
   */
  async acquire(relative: string, options: OpenOptions = {}): Promise<OpenFile> {
    const key = `${options.followSymlinks ? 'f' : 'b'}:${relative}`;
    for (;;) {
      let entry = this.entries.get(key);
      if (entry && !(await this.isStillValid(entry, relative))) {
        this.evict(entry);
        this.stats.replaced++;
        entry = undefined;
      }
      if (entry) {
        this.stats.hits++;
        // Map order is LRU order: move to the end.
        if (this.entries.delete(key)) this.entries.set(key, entry);
      } else {
        this.stats.misses++;
        entry = await this.open(key, relative, options);
      }
      // Another request may have evicted and closed it while we awaited; the
      // check and the lend below run in one synchronous step.
      if (entry.fd >= 0) return this.lend(entry);
    }
  }

  private lend(entry: Entry): OpenFile {
    entry.refs++;
    let released = false;
    return {
      fd: entry.fd,
      stats: entry.stats,
      ...(entry.content ? { content: entry.content } : {}),
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        if (entry.refs === 0 && (entry.evicted || this.maxEntries === 0)) void this.closeEntry(entry);
      },
    };
  }

  private async isStillValid(entry: Entry, relative: string): Promise<boolean> {
    const now = Date.now();
    if (now - entry.validatedAt < this.validMs) return true;
    this.stats.revalidations++;
    const current = await fs.promises.stat(path.join(this.root.realPath, relative)).catch(() => undefined);
    if (!current || !sameFile(current, entry.stats)) return false;
    entry.validatedAt = now;
    return true;
  }

  private open(key: string, relative: string, options: OpenOptions): Promise<Entry> {
    // Concurrent misses for one path share a single open.
    const pending = this.opening.get(key);
    if (pending) return pending;
    const promise = (async () => {
      const fd = await openBeneath(this.root, relative, options);
      try {
        const stats = await fstat(fd);
        const entry: Entry = { key, fd, stats, validatedAt: Date.now(), refs: 0, evicted: false };
        if (stats.isFile() && stats.size <= this.maxContentBytes && this.contentBytes + stats.size <= this.maxTotalContentBytes && this.maxEntries > 0) {
          entry.content = await readWhole(fd, stats.size);
          if (entry.content) this.contentBytes += stats.size;
        }
        if (this.maxEntries > 0) this.insert(entry);
        else entry.evicted = true;
        return entry;
      } catch (error) {
        await close(fd).catch(() => {});
        throw error;
      }
    })();
    this.opening.set(key, promise);
    return promise.finally(() => this.opening.delete(key));
  }

  private insert(entry: Entry): void {
    this.entries.set(entry.key, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.values().next().value as Entry;
      this.evict(oldest);
    }
  }

  private evict(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.evicted = true;
    if (entry.refs === 0) void this.closeEntry(entry);
  }

  private async closeEntry(entry: Entry): Promise<void> {
    if (entry.fd < 0) return;
    const fd = entry.fd;
    entry.fd = -1;
    if (entry.content) this.contentBytes -= entry.content.length;
    entry.content = undefined;
    await close(fd).catch(() => {});
  }

  /** Entries currently cached (open fds not counting those lent out after eviction). */
  get size(): number {
    return this.entries.size;
  }

  /** Closes every idle fd; entries in use close when released. */
  clear(): void {
    for (const entry of [...this.entries.values()]) this.evict(entry);
  }
}
