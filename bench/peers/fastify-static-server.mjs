// Peer: @fastify/static with default options, logger off (logging every
// request would measure pino, not file serving).

import Fastify from 'fastify';
import fastifyStatic from '@fastify/static';
import { parseServerArgs } from './server-args.mjs';

const { root, port, host } = parseServerArgs();
const app = Fastify({ logger: false });
await app.register(fastifyStatic, { root });
await app.listen({ port, host });
process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
