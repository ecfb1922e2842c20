/**
 * An open-file cache, like nginx's open_file_cache: a hot path costs no
 * open/close per request. Entries hold an fd, its stats and version
 * (src/fs/file-version.ts), plus the contents for small files. A replaced
 * file (new inode) gets a new entry; the old fd closes once the last
 * response using it is done.
 *
 * Never stale (DESIGN.md invariant 6, issue 10): by default every hit is
 * validated, synchronously, by one stat(2) of the path, compared with the
 * version read when the entry was opened (inode, link count, size, mtime and
 * ctime to the nanosecond). The first request after a write, truncate,
 * rename-over or delete therefore always sees the new state: the stat runs
 * after the request arrived, and so after any change the client waited for.
 *
 * Why a per-hit stat of the path, and not inotify or an fstat of the fd:
 *
 *  - fstat of the cached fd (1.2 µs) sees in-place writes, and an unlink or
 *    rename-over of the cached inode (its ctime and link count change), but
 *    not a change above it: a directory on the path swapped or renamed, a
 *    symlink on the path pointed elsewhere (`ln -sfn`, atomic deploys). The
 *    path names another file then, and only a lookup of the path says so.
 *  - inotify (fs.watch on the directories of cached entries) reports those,
 *    but asynchronously: the event is queued before rename(2) returns, yet
 *    it reaches our callback only when the event loop reads the inotify fd.
 *    A request read in the same loop iteration before that callback would
 *    be served stale. Ordering arguments (epoll's ready list is FIFO, libuv
 *    dispatches in order) hold only in the common case (not when epoll
 *    splices its overflow list, not across more than 1024 ready fds), and
 *    watches run out (fs.inotify.max_user_watches) and need a fallback
 *    anyway. With the window closed by a per-hit check, inotify would only
 *    save the check's cost, and only the fstat part of it.
 *  - stat of the path sees everything, in one syscall, before any byte is
 *    decided. Its dentries are cached: the open fd pins its own dentry and,
 *    through d_parent, every directory up to the root, so the lookup does
 *    not wait for the disk unless the path changed (then the new dentries
 *    were just created by the rename). It stays synchronous, so a fresh hit
 *    needs no await (what issue 11's synchronous fast path for memory hits
 *    needs).
 *
 * Measured cost (micro-measurement only, timing the validation call in a
 * loop for one second; Node 20, Linux 6.18, ext4, 2 cores):
 * statSync(path, { bigint: true }) of a five-component path 2.3 µs/call
 * (2.0 µs without bigint, fstatSync 1.2 µs, fs.promises.stat 7.9 µs of wall
 * time each when 32 run concurrently through the threadpool). Against the
 * ~41 µs of server CPU per 4 KiB memory hit measured for
 * DEFAULT_MAX_CONTENT_BYTES below, that is about 5%; the 1 MiB sendfile path
 * (~312 µs) pays under 1%. Syscalls per request (strace -c -f of the server,
 * 2,000 minus 1,000 keep-alive GETs, one connection): a 4 KiB memory hit
 * went from read + writev + epoll_pwait to the same plus one statx; a 1 MiB
 * sendfile response gained that statx plus the held-back last byte of
 * write-body.ts (one fstat, one pread on the threadpool with its wakeups,
 * one write). The req/s benchmark (bench:http, 4 KiB and 1 MiB,
 * before/after) is pending: the lead runs benchmarks.
 *
 * `validMs` > 0 is the opt-in nginx trade (open_file_cache_valid): trust an
 * entry that long without looking. Changes made within the window are then
 * served stale until it ends.
 *
 * File systems without exact change times (file-version.ts): an entry whose
 * file changed within RACY_WINDOW_MS of being read is used for that request
 * only and not kept, since a later change in the same clock tick could leave
 * its version unchanged.
 */
import fs from 'node:fs';
import path from 'node:path';

import {
  fdHasSameContent, hasExactChangeTimes, isProvable, isSameVersion, pathHasVersion, readStatsAndVersion, readVersion, type FileVersion,
} from '../../fs/file-version.js';
import { closeDescriptor, readRange } from '../../fs/descriptors.js';
import { openBeneath, type OpenOptions, type Root } from '../../fs/open-beneath.js';


/** Defaults: nginx-like sizes; every hit validated (validMs 0). */
export const DEFAULT_MAX_ENTRIES = 1024;
export const DEFAULT_VALID_MS = 0;
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
/** Reads of a small file's contents retried when it changes while being read. */
const CONTENT_READ_ATTEMPTS = 3;

export interface FileCacheOptions {
  /** Entries kept open; 0 turns the cache off (open and close per request). */
  maxEntries?: number;
  /**
   * Milliseconds an entry is trusted without looking at the file (default 0:
   * every hit is checked with a stat of the path, so changes are seen at
   * once). Larger values save that stat and serve changes late.
   */
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
  /** `stats.mtimeMs` to the nanosecond (from the version): what the ETag is made of. */
  mtimeNs: bigint;
  /** The whole file, when it is small enough to be kept in memory: a snapshot of exactly `stats`. */
  content?: Buffer;
  /**
   * True while the file's bytes are still those `stats` describes (one fstat
   * of `fd`). A body writer calls it after reading every byte it sends, before
   * sending the last one: false means the response would mix versions.
   */
  isUnchanged(): boolean;
  release(): void;
}

interface Entry {
  key: string;
  fd: number;
  stats: fs.Stats;
  version: FileVersion;
  /** Whether a change after `version` is guaranteed to show (file-version.ts). */
  provable: boolean;
  content?: Buffer | undefined;
  validatedAt: number;
  refs: number;
  evicted: boolean;
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
  /**
   * Counters for tests and metrics: hits and misses per acquire; validations
   * (stats of the path made for hits); replaced (entries found stale).
   */
  readonly stats = { hits: 0, misses: 0, validations: 0, replaced: 0 };

  constructor(root: Root, options: FileCacheOptions = {}) {
    this.root = root;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.validMs = options.validMs ?? DEFAULT_VALID_MS;
    this.maxContentBytes = options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
    this.maxTotalContentBytes = options.maxTotalContentBytes ?? DEFAULT_MAX_TOTAL_CONTENT_BYTES;
  }

  /**
   * The contents of the small file cached at `relative`, validated as a hit
   * is, without lending its fd (a response from memory needs none): the
   * synchronous fast path. Undefined on a miss, for a stale entry (dropped),
   * or when the file is not kept in memory.
   */
  peekContent(relative: string, options: OpenOptions = {}): { stats: fs.Stats; mtimeNs: bigint; content: Buffer } | undefined {
    const entry = this.entries.get(keyOf(relative, options));
    if (entry?.content === undefined) return undefined;
    if (!this.isFresh(entry, relative)) {
      this.evict(entry);
      this.stats.replaced++;
      return undefined;
    }
    this.stats.hits++;
    return { stats: entry.stats, mtimeNs: entry.version.mtimeNs, content: entry.content };
  }

  /**
   * The cached file at `relative`, validated and lent, or undefined on a
   * miss (nothing cached, or the cached entry is stale and was dropped).
   * Synchronous: a hit costs one stat of the path (none within `validMs`).
   */
  lookup(relative: string, options: OpenOptions = {}): OpenFile | undefined {
    const key = keyOf(relative, options);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (!this.isFresh(entry, relative)) {
      this.evict(entry);
      this.stats.replaced++;
      return undefined;
    }
    this.stats.hits++;
    // Map order is LRU order: move to the end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return this.lend(entry);
  }

  /**
   * The file at `relative` beneath the root, from the cache (validated) or
   * opened and stat'ed now. Rejects with the open's system error (ENOENT,
   * EXDEV for an escape, …).
   */
  async acquire(relative: string, options: OpenOptions = {}): Promise<OpenFile> {
    const hit = this.lookup(relative, options);
    if (hit) return hit;
    this.stats.misses++;
    const key = keyOf(relative, options);
    const pending = this.opening.get(key);
    if (pending !== undefined) {
      // Concurrent misses share one open. But it began before this request
      // arrived and may have looked at the file before a change this request
      // must see (or failed before the file was created): its entry is
      // validated like a hit, and a failure is not taken for ours.
      const shared = await pending.catch(() => undefined);
      if (shared !== undefined && shared.fd >= 0) {
        if (!shared.evicted) {
          const validated = this.lookup(relative, options);
          if (validated) return validated;
        } else if (shared.provable && this.isFresh(shared, relative)) {
          return this.lend(shared);
        }
      }
    }
    for (;;) {
      // An open that starts after this request arrived is fresh for it.
      const entry = await this.open(key, relative, options);
      if (entry.fd >= 0) return this.lend(entry);
      // Evicted and closed (LRU pressure) before we could lend it: again.
    }
  }

  private lend(entry: Entry): OpenFile {
    entry.refs++;
    let released = false;
    const { fd, version, provable } = entry;
    return {
      fd,
      stats: entry.stats,
      mtimeNs: version.mtimeNs,
      ...(entry.content ? { content: entry.content } : {}),
      isUnchanged: () => provable && fdHasSameContent(fd, version),
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        if (entry.refs === 0 && entry.evicted) void this.closeEntry(entry);
      },
    };
  }

  private isFresh(entry: Entry, relative: string): boolean {
    const now = Date.now();
    if (this.validMs > 0 && now - entry.validatedAt < this.validMs) return true;
    this.stats.validations++;
    if (!pathHasVersion(this.root.fd, this.root.realPath, relative, entry.version)) return false;
    entry.validatedAt = now;
    return true;
  }

  private open(key: string, relative: string, options: OpenOptions): Promise<Entry> {
    const promise = (async () => {
      const fd = await openBeneath(this.root, relative, options);
      try {
        const entry = await this.describe(key, relative, fd);
        // Kept only when a later change is sure to show in its version.
        if (this.maxEntries > 0 && entry.provable) this.insert(entry);
        else this.discardContent(entry);
        return entry;
      } catch (error) {
        await closeDescriptor(fd);
        throw error;
      }
    })();
    this.opening.set(key, promise);
    return promise.finally(() => {
      if (this.opening.get(key) === promise) this.opening.delete(key);
    });
  }

  // Stats, version and (for small files) contents of a newly opened fd, all
  // of one state of the file: a write during the read is retried.
  private async describe(key: string, relative: string, fd: number): Promise<Entry> {
    for (let attempt = 1; ; attempt++) {
      const readAt = Date.now();
      const { version, stats } = readStatsAndVersion(fd);
      const exact = hasExactChangeTimes(version.dev, path.join(this.root.realPath, relative));
      const entry: Entry = { key, fd, stats, version, provable: isProvable(version, readAt, exact), validatedAt: readAt, refs: 0, evicted: false };
      const wantsContent = stats.isFile() && stats.size <= this.maxContentBytes && this.maxEntries > 0 && entry.provable &&
        this.contentBytes + stats.size <= this.maxTotalContentBytes;
      if (!wantsContent) return entry;
      // A file that shrank since the stat reads short: nothing is cached then.
      const content = await readRange(fd, stats.size, 0);
      if (content !== undefined && isSameVersion(readVersion(fd), version)) {
        entry.content = content;
        this.contentBytes += content.length;
        return entry;
      }
      if (attempt === CONTENT_READ_ATTEMPTS) return entry; // still changing: serve it from the fd, uncached in memory
    }
  }

  private discardContent(entry: Entry): void {
    entry.evicted = true;
    if (entry.content) this.contentBytes -= entry.content.length;
    entry.content = undefined;
  }

  private insert(entry: Entry): void {
    const previous = this.entries.get(entry.key);
    if (previous !== undefined && previous !== entry) this.evict(previous);
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
    await closeDescriptor(fd);
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

function keyOf(relative: string, options: OpenOptions): string {
  return `${options.followSymlinks ? 'f' : 'b'}:${relative}`;
}
