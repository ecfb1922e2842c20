// Peer: express.static (serve-static under Express 5), default options, as
// an Express application would mount it.

import express from 'express';
import { exitOnTerm, parseServerArgs } from './server-args.mjs';

const { root, port, host } = parseServerArgs();
const app = express();
app.use(express.static(root));
const server = app.listen(port, host);
exitOnTerm(server);
