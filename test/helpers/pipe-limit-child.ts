/**
 * Run as an unprivileged user by pipe-pool.test.ts: takes 1 MiB pipes until
 * fs.pipe-user-pages-soft makes F_SETPIPE_SZ fail, then splices through the
 * smallest pipe it got. Prints what it saw as JSON.
 */
import fs from 'node:fs';

import { PipePool } from '../../src/transfer/pipe-pool.js';

const PIPES = 120; // 120 MiB asked for; the default soft limit is 64 MiB per user
const pool = new PipePool({ maxPipes: PIPES, sizeHint: 1 << 20 });
const pipes = [];
for (let i = 0; i < PIPES; i++) {
  const pipe = pool.acquire();
  if (!pipe) break;
  pipes.push(pipe);
}
const capacities = pipes.map((p) => p.capacity);
const smallest = pipes.reduce((a, b) => (b.capacity < a.capacity ? b : a));
const payload = Buffer.alloc(smallest.capacity, 42);
const written = fs.writeSync(smallest.writeFd, payload);
const out = Buffer.alloc(payload.length);
const read = fs.readSync(smallest.readFd, out);
for (const pipe of pipes) pool.release(pipe, 0);
pool.drain();
console.log(JSON.stringify({
  acquired: pipes.length,
  largest: Math.max(...capacities),
  smallest: smallest.capacity,
  roundTrip: written === read && out.equals(payload),
}));
