/**
 * Run with a small RLIMIT_NOFILE by sendfile-robustness.test.ts: exhausts
 * fds so a splice's dup() fails with EMFILE after its pipe was taken, and
 * reports whether anything leaked.
 */
import fs from 'node:fs';

import { splice } from '../../src/index.js';
import { getNative } from '../../src/native/capabilities.js';
import { socketFd } from '../../src/transfer/endpoint.js';
import { sharedPipePool } from '../../src/transfer/pipe-pool.js';
import { connectPair } from './net.js';
import { openFdCount } from './process.js';

// Load the addon (its epoll fd and eventfd) before the table fills up.
getNative();
const pool = sharedPipePool();
const inbound = await connectPair({ pauseOnConnect: true });
const outbound = await connectPair();
const filler: number[] = [];
try {
  for (;;) filler.push(fs.openSync('/dev/null', 'r'));
} catch {
  // EMFILE: the table is full.
}
// Room for the pipe (two fds) and nothing more: the job's first dup() fails.
fs.closeSync(filler.pop()!);
fs.closeSync(filler.pop()!);
const before = openFdCount() - 1; // readdir of /proc/self/fd itself holds one fd while counting
const error = await splice(inbound.server, outbound.server).then(() => undefined, (e) => e);
pool.drain();
const after = openFdCount() - 1;
console.log(JSON.stringify({ code: error?.code, syscall: error?.syscall, fd: error?.fd, sourceFd: socketFd(inbound.server), before, after, poolSize: pool.size }));
filler.forEach((fd) => fs.closeSync(fd));
inbound.close();
outbound.close();
