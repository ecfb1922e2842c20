// Reference, not a peer: the least a node:http server can do per request.
// Every fixture is read into memory once at start (files up to 1 MiB) and
// answered with res.writeHead + res.end(buffer): no stat, no validators, no
// ranges. Its CPU per request and RSS are Node's floor for the 4 KiB case
// (issue 11), the numbers zerocopy's fast path is measured against.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { exitOnTerm, parseServerArgs } from './server-args.mjs';

const MAX_BYTES = 1 << 20;
const { root, port, host } = parseServerArgs();
const files = new Map();
for (const name of readdirSync(root)) {
  const path = join(root, name);
  const stat = statSync(path);
  if (stat.isFile() && stat.size <= MAX_BYTES) files.set(`/${name}`, readFileSync(path));
}

const server = createServer((req, res) => {
  const body = files.get(req.url);
  if (body === undefined) {
    res.writeHead(404).end('Not Found');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(port, host);
exitOnTerm(server);
