// Peer: Bun's built-in server answering with Bun.file(), which Bun sends with
// sendfile(2) for regular files. Run by the bun binary from the npm package
// @oven/bun-linux-x64 (bench/package.json), never by Node:
//
//   bun bun-static-server.mjs DIR --port P [--host 127.0.0.1]
//
// GET and HEAD of files under DIR; anything else 404/405. Enough for a
// benchmark peer that only serves the fixtures.

import { resolve, sep } from 'node:path';
import { statSync } from 'node:fs';

const args = process.argv.slice(2);
let root = '';
let port = 0;
let host = '127.0.0.1';
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') port = Number(args[++i]);
  else if (args[i] === '--host') host = args[++i];
  else root = resolve(args[i]);
}
if (!root || !port) {
  console.error('usage: bun bun-static-server.mjs DIR --port P [--host 127.0.0.1]');
  process.exit(2);
}

const server = Bun.serve({
  port,
  hostname: host,
  fetch(req) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return new Response(null, { status: 405, headers: { Allow: 'GET, HEAD' } });
    const pathname = decodeURIComponent(new URL(req.url).pathname);
    const file = resolve(root + pathname);
    if (!file.startsWith(root + sep)) return new Response('Not Found', { status: 404 });
    try {
      if (!statSync(file).isFile()) return new Response('Not Found', { status: 404 });
    } catch {
      return new Response('Not Found', { status: 404 });
    }
    return new Response(Bun.file(file));
  },
});
process.on('SIGTERM', () => {
  server.stop(true);
  process.exit(0);
});
