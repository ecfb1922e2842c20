/**
 * A raw HTTP/1.1 client for tests that need what fetch hides: pipelining,
 * exact bytes on the wire, and connections held open.
 */
import { once } from 'node:events';
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses consecutive responses (Content-Length framed; HEAD-aware) from `data`. */
export function parseResponses(data: Buffer, methods: string[]): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (const method of methods) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine!.split(' ')[1]);
    const length = method === 'HEAD' || status === 304 || status === 204 ? 0 : Number(headers['content-length'] ?? 0);
    if (data.length < end + 4 + length) break;
    responses.push({ status, headers, body: data.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return { responses, rest: data.subarray(at) };
}

/**
 * Sends `requests` (raw request heads) in ONE write on one connection and
 * collects the responses until all arrived or `timeoutMs` passed.
 */
export async function pipeline(port: number, requests: { method: string; path: string; headers?: Record<string, string> }[], timeoutMs = 10000): Promise<{ responses: RawResponse[]; rest: Buffer; closed: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const text = requests
    .map((r) => {
      const extra = Object.entries(r.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      return `${r.method} ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
    })
    .join('');
  socket.write(text);
  const chunks: Buffer[] = [];
  let closed = false;
  const methods = requests.map((r) => r.method);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (parseResponses(Buffer.concat(chunks), methods).responses.length === requests.length) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => {});
  });
  socket.destroy();
  return { ...parseResponses(Buffer.concat(chunks), methods), closed };
}
