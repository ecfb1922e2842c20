/**
 * The roots sendFileResponse resolves beneath, kept open between calls (one
 * O_PATH fd each, the anchor of openat2 RESOLVE_BENEATH), at most
 * MAX_OPEN_ROOTS of them, least recently used evicted first.
 *
 * An evicted root's fd is closed once no call is using it: a call leases the
 * root for as long as it resolves a path beneath it (openat2 on the root fd
 * runs on the threadpool), and closing the fd under it would make that
 * openat2 fail with EBADF, or worse, resolve beneath whatever directory
 * reused the number. The file it opened does not need the root afterwards.
 * (Issue 8 §4: the cache used to drop evicted roots without closing them and
 * evict by insertion: 170 calls over 17 roots left 170 fds open.)
 */
import path from 'node:path';

import { closeRoot, openRoot, type Root } from '../../fs/open-beneath.js';

/** Roots kept open at once. */
export const MAX_OPEN_ROOTS = 16;

interface Entry {
  key: string;
  root: Promise<Root>;
  /** Calls between leaseRoot and release. */
  users: number;
  /** Out of the map: close when the last user is gone. */
  evicted: boolean;
}

/** A root in use: `release()` exactly once when done resolving beneath it. */
export interface RootLease {
  root: Promise<Root>;
  release(): void;
}

// Map order is recency order: the first entry is the least recently used.
const entries = new Map<string, Entry>();

function closeEntry(entry: Entry): void {
  entry.root.then(closeRoot, () => {});
}

function evict(entry: Entry): void {
  if (entries.get(entry.key) === entry) entries.delete(entry.key);
  if (entry.evicted) return;
  entry.evicted = true;
  if (entry.users === 0) closeEntry(entry);
}

/**
 * Leases the root for `dir` (resolved against the working directory),
 * opening it on first use (rejections are those of openRoot: ENOENT,
 * ENOTDIR, … and are not cached). Marks it most recently used; evicts the
 * least recently used beyond MAX_OPEN_ROOTS, whose fd closes when its last
 * lease ends.
 */
export function leaseRoot(dir: string): RootLease {
  const key = path.resolve(dir);
  let entry = entries.get(key);
  if (entry) {
    entries.delete(key);
    entries.set(key, entry);
  } else {
    const created: Entry = { key, root: openRoot(key), users: 0, evicted: false };
    created.root.catch(() => evict(created));
    entries.set(key, created);
    entry = created;
    while (entries.size > MAX_OPEN_ROOTS) evict(entries.values().next().value as Entry);
  }
  const leased = entry;
  leased.users++;
  let released = false;
  return {
    root: leased.root,
    release() {
      if (released) return;
      released = true;
      leased.users--;
      if (leased.users === 0 && leased.evicted) closeEntry(leased);
    },
  };
}

/** Evicts every root (tests, shutdown); roots in use close when their leases end. */
export function closeCachedRoots(): void {
  for (const entry of [...entries.values()]) evict(entry);
}

/** Roots currently cached (in use or idle). */
export function cachedRootCount(): number {
  return entries.size;
}
