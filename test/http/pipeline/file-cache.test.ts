import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { setExactChangeTimesForTesting, RACY_WINDOW_MS } from '../../../src/fs/file-version.js';
import { FileCache } from '../../../src/http/pipeline/file-cache.js';
import { closeRoot, openRoot, type Root } from '../../../src/fs/open-beneath.js';
import { makeTempDir } from '../../helpers/fixtures.js';
import { openFdCount, openFdsUnder, settleCount } from '../../helpers/process.js';

/** True while `fd` is open on the inode `stats` describes (false once closed, or reused for another file). */
function namesInode(fd: number, stats: fs.Stats): boolean {
  try {
    const now = fs.fstatSync(fd);
    return now.ino === stats.ino && now.dev === stats.dev;
  } catch {
    return false; // EBADF: closed
  }
}

/** fds of this process open on `file` right now (procfs). */
function fdsOn(file: string): number {
  let count = 0;
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${name}`) === file) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

describe('FileCache', () => {
  const tmp = makeTempDir();
  let root: Root;
  before(async () => {
    fs.writeFileSync(path.join(tmp.dir, 'small.txt'), 'small file');
    fs.writeFileSync(path.join(tmp.dir, 'big.bin'), Buffer.alloc(200 << 10, 1));
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(tmp.dir, `f${i}`), `file ${i}`);
    root = await openRoot(tmp.dir);
  });
  after(() => {
    closeRoot(root);
    tmp.remove();
  });

  it('reuses the open fd for a hot file: no open, fstat or close per request', async () => {
    const cache = new FileCache(root, { validMs: 60000 });
    const first = await cache.acquire('small.txt');
    first.release();
    const fds = openFdCount();
    const second = await cache.acquire('small.txt');
    assert.equal(second.fd, first.fd);
    assert.equal(openFdCount(), fds);
    assert.deepEqual(cache.stats.hits, 1);
    second.release();
    cache.clear();
  });

  it('by default validates every hit with one stat of the path, synchronously, and still reuses the fd', async () => {
    const cache = new FileCache(root);
    (await cache.acquire('small.txt')).release();
    const fds = openFdCount();
    const hit = cache.lookup('small.txt');
    assert.ok(hit, 'a hit is known without awaiting anything');
    assert.equal(hit.content?.toString(), 'small file');
    assert.equal(openFdCount(), fds);
    assert.deepEqual({ hits: cache.stats.hits, validations: cache.stats.validations }, { hits: 1, validations: 1 });
    hit.release();
    cache.clear();
  });

  it('keeps small files in memory and big ones as fds only', async () => {
    const cache = new FileCache(root, { maxContentBytes: 64 << 10 });
    const small = await cache.acquire('small.txt');
    const big = await cache.acquire('big.bin');
    assert.equal(small.content?.toString(), 'small file');
    assert.equal(big.content, undefined);
    assert.equal(big.stats.size, 200 << 10);
    small.release();
    big.release();
    cache.clear();
  });

  it('serves the new file after a replacement (new inode) at once, and closes the old fd', async () => {
    const file = path.join(tmp.dir, 'replaced.txt');
    fs.writeFileSync(file, 'old contents');
    const cache = new FileCache(root);
    const old = await cache.acquire('replaced.txt');
    assert.equal(old.content?.toString(), 'old contents');
    fs.writeFileSync(`${file}.tmp`, 'new contents, longer');
    fs.renameSync(`${file}.tmp`, file); // atomic replace: a new inode at the same path
    const fresh = await cache.acquire('replaced.txt');
    assert.equal(fresh.content?.toString(), 'new contents, longer');
    assert.notEqual(fresh.stats.ino, old.stats.ino);
    assert.equal(cache.stats.replaced, 1);
    const oldFd = old.fd;
    assert.equal(fs.fstatSync(oldFd).ino, old.stats.ino, 'the old fd stays open while a response uses it');
    old.release();
    // The close runs on the threadpool, and the fd number may be reused at
    // once: what must end is this fd naming the old inode (issue 8 §7).
    assert.equal(await settleCount(() => (namesInode(oldFd, old.stats) ? 1 : 0), 0), 0, 'and closes after its last release');
    fresh.release();
    cache.clear();
  });

  it('notices an in-place rewrite of the same size at once', async () => {
    const file = path.join(tmp.dir, 'same-size.txt');
    fs.writeFileSync(file, 'aaaa');
    const cache = new FileCache(root);
    (await cache.acquire('same-size.txt')).release();
    fs.writeFileSync(file, 'bbbb');
    const again = await cache.acquire('same-size.txt');
    assert.equal(again.content?.toString(), 'bbbb');
    again.release();
    cache.clear();
  });

  it('with validMs, trusts an entry that long without looking (the opt-in nginx trade), then notices the change', async () => {
    const file = path.join(tmp.dir, 'grown.txt');
    fs.writeFileSync(file, 'short');
    const cache = new FileCache(root, { validMs: 60_000 });
    (await cache.acquire('grown.txt')).release();
    fs.appendFileSync(file, ' and longer');
    const trusted = await cache.acquire('grown.txt');
    assert.equal(trusted.content?.toString(), 'short', 'stale within validMs, as documented');
    assert.equal(cache.stats.validations, 0);
    trusted.release();
    cache.clear();
    const checking = new FileCache(root, { validMs: 1 });
    (await checking.acquire('grown.txt')).release();
    fs.appendFileSync(file, '!');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const again = await checking.acquire('grown.txt');
    assert.equal(again.content?.toString(), 'short and longer!');
    again.release();
    checking.clear();
  });

  it('where change times are coarse, keeps no entry for a file changed within the racy window, and caches it once older', async () => {
    setExactChangeTimesForTesting(false);
    try {
      const file = path.join(tmp.dir, 'racy.txt');
      fs.writeFileSync(file, 'just written');
      const cache = new FileCache(root);
      const first = await cache.acquire('racy.txt');
      assert.equal(first.content, undefined, 'not snapshotted in memory');
      assert.equal(first.isUnchanged(), false, 'and an in-flight body could not be proven of one version');
      first.release();
      assert.equal(cache.size, 0, 'not kept');
      await new Promise((resolve) => setTimeout(resolve, RACY_WINDOW_MS + 20));
      const later = await cache.acquire('racy.txt');
      assert.equal(later.content?.toString(), 'just written');
      assert.equal(later.isUnchanged(), true);
      later.release();
      assert.equal(cache.size, 1);
      cache.clear();
    } finally {
      setExactChangeTimesForTesting(undefined);
    }
  });

  it('a request that joins an open begun before a rename over the file gets the new file, not the one that open found', async () => {
    const file = path.join(fs.realpathSync(tmp.dir), 'joined.txt');
    fs.writeFileSync(file, 'before');
    const cache = new FileCache(root);
    const early = cache.acquire('joined.txt');
    // Without yielding to the event loop: wait until the threadpool has
    // opened the old file, so the early open's result (still undelivered)
    // is the inode that is about to be replaced.
    for (const deadline = Date.now() + 5000; fdsOn(file) === 0;) {
      if (Date.now() > deadline) throw new Error('the open did not run');
    }
    fs.writeFileSync(`${file}.tmp`, 'after!');
    fs.renameSync(`${file}.tmp`, file);
    const late = cache.acquire('joined.txt'); // arrives after the rename and joins the early open
    const [a, b] = await Promise.all([early, late]);
    try {
      assert.ok(['before', 'after!'].includes(a.content?.toString() ?? ''), 'the early request arrived before the rename: either is right');
      assert.equal(b.content?.toString(), 'after!');
    } finally {
      a.release();
      b.release();
      cache.clear();
    }
  });

  it('evicts the least recently used entry beyond maxEntries and closes its fd', async () => {
    const held = () => openFdsUnder(tmp.dir);
    assert.equal(await settleCount(held, 0), 0, 'earlier tests left no fd on the fixtures');
    const cache = new FileCache(root, { maxEntries: 3 });
    for (let i = 0; i < 10; i++) (await cache.acquire(`f${i}`)).release();
    assert.equal(cache.size, 3);
    assert.equal(await settleCount(held, 3), 3);
    cache.clear();
    assert.equal(await settleCount(held, 0), 0);
  });

  it('with maxEntries 0 opens per request and closes on release', async () => {
    const held = () => openFdsUnder(tmp.dir);
    assert.equal(await settleCount(held, 0), 0, 'earlier tests left no fd on the fixtures');
    const cache = new FileCache(root, { maxEntries: 0 });
    const file = await cache.acquire('small.txt');
    assert.equal(held(), 1);
    file.release();
    assert.equal(await settleCount(held, 0), 0);
  });

  it('shares one open between concurrent misses', async () => {
    const cache = new FileCache(root);
    const files = await Promise.all(Array.from({ length: 20 }, () => cache.acquire('f1')));
    assert.equal(new Set(files.map((f) => f.fd)).size, 1);
    assert.equal(cache.stats.misses, 20);
    files.forEach((f) => f.release());
    cache.clear();
  });
});
