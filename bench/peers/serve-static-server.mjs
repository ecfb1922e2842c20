// Peer: serve-static on a bare node:http server, i.e. express.static without
// Express's router, to separate the framework's cost from the file layer's.

import { createServer } from 'node:http';
import serveStatic from 'serve-static';
import { exitOnTerm, parseServerArgs } from './server-args.mjs';

const { root, port, host } = parseServerArgs();
const serve = serveStatic(root);
const server = createServer((req, res) => {
  serve(req, res, () => {
    res.statusCode = 404;
    res.end('Not Found');
  });
});
server.listen(port, host);
exitOnTerm(server);
