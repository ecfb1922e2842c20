/**
 * Shared by the static-server tests: a server around serveStatic on a real
 * loopback port, a raw one-shot request for targets fetch would normalize,
 * and a recorder of the transfers the diagnostics channel reports (the proof
 * that a body went out with sendfile).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';

import { TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/diagnostics.js';
import { serveStatic, type Next, type StaticHandler } from '../../src/http/faces/middleware.js';
import type { ServeStaticOptions } from '../../src/http/pipeline/static-options.js';
import { responseBodyOf, type ResponseBody } from '../../src/http/pipeline/response-info.js';
import { parseResponses, type RawResponse } from '../helpers/http.js';

export interface StaticTestServer {
  port: number;
  base: string;
  handler: StaticHandler;
  /** Body outcome of every response, in completion order. */
  bodies: ResponseBody[];
  close(): Promise<void>;
}

/**
 * node:http + serveStatic(root, options) on 127.0.0.1. With `next`, the
 * handler runs as middleware and `next` decides what happens after it.
 */
export async function startStatic(root: string, options: ServeStaticOptions = {}, next?: (req: http.IncomingMessage, res: http.ServerResponse) => Next): Promise<StaticTestServer> {
  const handler = serveStatic(root, options);
  const bodies: ResponseBody[] = [];
  const server = http.createServer((req, res) => {
    res.once('close', () => {
      const body = responseBodyOf(res);
      if (body) bodies.push(body);
    });
    void handler(req, res, next?.(req, res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    handler,
    bodies,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await handler.close();
    },
  };
}

/**
 * The body outcomes recorded after index `before`, once `count` of them are
 * in (bounded): a response's 'close' may come after the client saw its end.
 */
export async function bodiesAfter(bodies: ResponseBody[], before: number, count = 1): Promise<ResponseBody[]> {
  for (const deadline = Date.now() + 5000; bodies.length < before + count && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return bodies.slice(before);
}

/** Records transfer-end messages until `stop()`. */
export function recordTransfers(): { transfers: TransferEndMessage[]; stop(): void } {
  const transfers: TransferEndMessage[] = [];
  const listener = (message: unknown) => transfers.push(message as TransferEndMessage);
  diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
  return { transfers, stop: () => diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener) };
}

/** A fetch that returns status, headers and the whole body. */
export async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const response = await fetch(url, { method, headers, redirect: 'manual', signal: AbortSignal.timeout(15000) });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/**
 * Sends `head` verbatim (one request, `Connection: close` added unless
 * present) and parses the one response. For request-targets that fetch would
 * normalize (`..`, backslashes, absolute-form). Bounded by `timeoutMs`.
 */
export async function rawGet(port: number, target: string, extraHeaders = '', method = 'GET', timeoutMs = 5000): Promise<RawResponse & { raw: Buffer }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extraHeaders}\r\n`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => {});
  });
  socket.destroy();
  const raw = Buffer.concat(chunks);
  const { responses } = parseResponses(raw, [method]);
  if (responses.length !== 1) throw new Error(`no complete response to ${target}: ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  return { ...responses[0]!, raw };
}

/** Splits a multipart/byteranges body into its parts' headers and bytes. */
export function parseMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; data: Buffer }[] {
  const parts: { headers: Record<string, string>; data: Buffer }[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const afterDelimiter = at + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', afterDelimiter);
    const headers: Record<string, string> = {};
    for (const line of body.subarray(afterDelimiter + 2, headEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headEnd + 4);
    parts.push({ headers, data: body.subarray(headEnd + 4, next) });
    at = next + 2;
  }
  return parts;
}
