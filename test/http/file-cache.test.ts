import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FileCache } from '../../src/http/file-cache.js';
import { closeRoot, openRoot, type Root } from '../../src/http/open-beneath.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { openFdCount, openFdsUnder, settleCount } from '../helpers/process.js';

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

  it('serves the new file after a replacement (new inode) once validMs has passed, and closes the old fd', async () => {
    const file = path.join(tmp.dir, 'replaced.txt');
    fs.writeFileSync(file, 'old contents');
    const cache = new FileCache(root, { validMs: 50 });
    const old = await cache.acquire('replaced.txt');
    assert.equal(old.content?.toString(), 'old contents');
    fs.writeFileSync(`${file}.tmp`, 'new contents, longer');
    fs.renameSync(`${file}.tmp`, file); // atomic replace: a new inode at the same path
    await new Promise((resolve) => setTimeout(resolve, 60));
    const fresh = await cache.acquire('replaced.txt');
    assert.equal(fresh.content?.toString(), 'new contents, longer');
    assert.notEqual(fresh.stats.ino, old.stats.ino);
    assert.equal(cache.stats.replaced, 1);
    const oldFd = old.fd;
    assert.ok(fs.fstatSync(oldFd).size > 0, 'the old fd stays open while a response uses it');
    old.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.throws(() => fs.fstatSync(oldFd), { code: 'EBADF' }, 'and closes after its last release');
    fresh.release();
    cache.clear();
  });

  it('notices an in-place change of size after validMs', async () => {
    const file = path.join(tmp.dir, 'grown.txt');
    fs.writeFileSync(file, 'short');
    const cache = new FileCache(root, { validMs: 30 });
    (await cache.acquire('grown.txt')).release();
    fs.appendFileSync(file, ' and longer');
    await new Promise((resolve) => setTimeout(resolve, 40));
    const again = await cache.acquire('grown.txt');
    assert.equal(again.content?.toString(), 'short and longer');
    again.release();
    cache.clear();
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
