/**
 * Run as nobody (no CAP_IPC_LOCK) under a low RLIMIT_MEMLOCK by
 * send-buffers.test.ts: sends `argv[2]` MiB of zero-copy buffers over
 * loopback, the receiver paused for the first `argv[3]` ms, and prints the
 * result and whether the receiver got every byte, as JSON. Self-contained:
 * only the library is staged next to it.
 */
import crypto from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';

import { sendBuffers } from '../../src/transfer/send-buffers.js';

const MIB = 1 << 20;
const total = Number(process.argv[2] ?? 16) * MIB;
const pauseMs = Number(process.argv[3] ?? 0);

// 256 KiB zero-copy buffers separated by 100-byte copied ones: each
// MSG_ZEROCOPY call is one 256 KiB buffer (the kernel charges a call's
// whole length against RLIMIT_MEMLOCK up front).
const buffers: Buffer[] = [];
const zerocopy = crypto.randomBytes(256 << 10);
for (let size = 0; size < total; size += zerocopy.length + 100) buffers.push(zerocopy, crypto.randomBytes(100));
const expected = crypto.createHash('sha256');
let bytes = 0;
for (const b of buffers) {
  expected.update(b);
  bytes += b.length;
}

const listener = net.createServer().listen(0, '127.0.0.1');
await once(listener, 'listening');
const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
const [[server]] = (await Promise.all([once(listener, 'connection'), once(client, 'connect')])) as [[net.Socket], unknown];
listener.close();
client.pause();
const received = crypto.createHash('sha256');
let got = 0;
const done = new Promise<void>((resolve) => {
  client.on('data', (chunk: Buffer) => {
    received.update(chunk);
    got += chunk.length;
    if (got >= bytes) resolve();
  });
});
setTimeout(() => client.resume(), pauseMs);
let result: unknown;
let error: unknown;
try {
  result = await sendBuffers(server, buffers, { zerocopy: 'auto', minBytes: 1000, backend: 'msg_zerocopy' });
} catch (e) {
  error = { code: (e as NodeJS.ErrnoException).code, message: (e as Error).message };
}
await done;
server.destroy();
client.destroy();
console.log(JSON.stringify({ result, error, bytes, got, intact: received.digest('hex') === expected.digest('hex') }));
