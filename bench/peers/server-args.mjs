// Command line shared by the Node peer servers, mirroring the project's own
// `zerocopy serve DIR --port P --host H`, so every server is launched alike.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** Parses `DIR --port P [--host 127.0.0.1]` from process.argv; DIR comes back absolute. */
export function parseServerArgs() {
  const { values, positionals } = parseArgs({
    options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } },
    allowPositionals: true,
  });
  const port = Number(values.port);
  if (positionals.length !== 1 || !Number.isInteger(port) || port < 1) {
    console.error('usage: node <server>.mjs DIR --port P [--host 127.0.0.1]');
    process.exit(2);
  }
  // Absolute, because @fastify/static refuses a relative root.
  return { root: resolve(positionals[0]), port, host: values.host };
}

/** Exit cleanly on SIGTERM from the harness (no half-written output). */
export function exitOnTerm(server) {
  process.once('SIGTERM', () => {
    server.close();
    process.exit(0);
  });
}
