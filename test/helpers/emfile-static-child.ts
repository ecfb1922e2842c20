/**
 * Run with a small RLIMIT_NOFILE by http/pipeline/fd-exhaustion.test.ts: a static
 * server whose fd table fills up between two requests on one keep-alive
 * connection. The file's fd is already cached and the connection accepted,
 * so the only fd a response still wants is the transfer's dup(): the body
 * must go out by copy instead of the connection closing with nothing sent.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { parseResponses } from './http.js';
import { startStatic } from '../http/static-helpers.js';

const [root, headerMode] = process.argv.slice(2) as [string, 'cork' | 'prefix'];
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const server = await startStatic(root, { headerMode });
const socket = net.connect(server.port, '127.0.0.1');
await once(socket, 'connect');
const chunks: Buffer[] = [];
socket.on('data', (chunk: Buffer) => chunks.push(chunk));

const request = (extra = '') => `GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
async function responses(count: number) {
  for (const deadline = Date.now() + 10000; Date.now() < deadline;) {
    const parsed = parseResponses(Buffer.concat(chunks), Array(count).fill('GET'));
    if (parsed.responses.length === count) return parsed.responses;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`fewer than ${count} responses in 10 s`);
}

// Warm-up: the file's fd enters the open-file cache.
socket.write(request());
await responses(1);

const filler: number[] = [];
try {
  for (;;) filler.push(fs.openSync('/dev/null', 'r'));
} catch {
  // EMFILE: the table is full.
}
socket.write(request() + request('Range: bytes=0-99,4096-8191\r\n'));
const [, whole, ranges] = await responses(3);
filler.forEach((fd) => fs.closeSync(fd));
socket.end();
const file = fs.readFileSync(path.join(root, 'big.bin'));
console.log(JSON.stringify({
  filled: filler.length,
  whole: { status: whole!.status, matches: sha(whole!.body) === sha(file) },
  ranges: { status: ranges!.status, contentType: ranges!.headers['content-type'], body: ranges!.body.toString('base64') },
  bodies: server.bodies.slice(1),
  expected: { first: file.subarray(0, 100).toString('base64'), second: file.subarray(4096, 8192).toString('base64') },
}));
await server.close();
