// Peer: the hand-written Node static server, node:http with
// fs.createReadStream(file).pipe(res): every byte is read into a JS Buffer
// and written back out, the classic path the project replaces.

import { createReadStream, promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { exitOnTerm, parseServerArgs } from './server-args.mjs';

const { root, port, host } = parseServerArgs();
const rootDir = resolve(root);

const server = createServer(async (req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  let file;
  try {
    const pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    file = resolve(join(rootDir, pathname));
    // Minimal jail: enough for a benchmark peer that only serves fixtures.
    if (!file.startsWith(rootDir + sep)) throw new Error('outside root');
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new Error('not a file');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': stat.size });
  } catch {
    res.writeHead(404).end('Not Found');
    return;
  }
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
});
server.listen(port, host);
exitOnTerm(server);
