// Peer: the canonical Node TCP proxy, client.pipe(upstream) and
// upstream.pipe(client). Every byte is read into a JS Buffer and written out.
//
// usage: node node-pipe-proxy.mjs --listen 127.0.0.1:P --to 127.0.0.1:Q

import { createServer, connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, to: { type: 'string' } } });
const [listenHost, listenPort] = splitHostPort(values.listen);
const [upstreamHost, upstreamPort] = splitHostPort(values.to);

const server = createServer((client) => {
  const upstream = connect(upstreamPort, upstreamHost);
  client.pipe(upstream);
  upstream.pipe(client);
  // Only errors tear both sides down. 'close' must not: with the default
  // allowHalfOpen = false a socket closes as soon as its peer's FIN arrives,
  // while pipe() may still be flushing data to the other side.
  const destroyBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', destroyBoth);
  upstream.on('error', destroyBoth);
});
server.listen(listenPort, listenHost);
process.once('SIGTERM', () => process.exit(0));

function splitHostPort(text) {
  const match = /^(.+):(\d+)$/.exec(text ?? '');
  if (!match) {
    console.error('usage: node node-pipe-proxy.mjs --listen HOST:PORT --to HOST:PORT');
    process.exit(2);
  }
  return [match[1], Number(match[2])];
}
