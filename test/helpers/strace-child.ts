/**
 * Run under strace by sendfile-robustness.test.ts: one sendFile and one
 * socket-to-socket splice, then prints the results as JSON.
 */
import net from 'node:net';

import { sendFile, splice } from '../../src/index.js';
import { makeRandomFile, makeTempDir } from './fixtures.js';
import { collect, connectPair } from './net.js';

const tmp = makeTempDir();
try {
  const fixture = makeRandomFile(tmp.dir, 'traced', 1 << 20);
  const first = await connectPair();
  const got = collect(first.client);
  const sent = await sendFile(first.server, fixture.path, { offset: 0 });
  first.server.end();
  await got;
  first.close();

  const inbound = await connectPair({ pauseOnConnect: true });
  const outbound = await connectPair();
  const relayed = collect(outbound.client);
  inbound.client.end(Buffer.alloc(1 << 20, 7));
  const spliced = await splice(inbound.server as net.Socket, outbound.server);
  outbound.server.end();
  await relayed;
  inbound.close();
  outbound.close();
  console.log(JSON.stringify({ sendfile: sent, splice: spliced }));
} finally {
  tmp.remove();
}
