/**
 * What the static layer did with a response's body, kept beside the
 * ServerResponse so loggers (the access log, a user's own) can report bytes
 * and the path that moved them without wrapping `res.write`. Native bytes
 * never pass through Node's stream accounting (`socket.bytesWritten` misses
 * them: FEASIBILITY §3), so this is the only place they are counted.
 */
import type { ServerResponse } from 'node:http';

import type { CopyReason } from './write-body.js';

export type { CopyReason };

/**
 * How the body reached the socket:
 * - 'sendfile': the kernel read it from the page cache (sendfile(2));
 * - 'copy': read into user space and written through Node (TLS, HTTP/2, no
 *   addon, `method: 'copy'`, or a kernel refusal: `reason` says which);
 * - 'memory': a small cached file sent with one `res.end(buffer)`;
 * - 'none': no body (HEAD, 304, 412, 416 without content, redirects, errors
 *   with a fixed page count as 'memory').
 */
export type ResponseBodyMethod = 'sendfile' | 'copy' | 'memory' | 'none';

/** The body of one response, as recorded by serveStatic / sendFileResponse. */
export interface ResponseBody {
  /** Body bytes that reached the socket (or Node's buffer); partial on failure. */
  bytes: number;
  method: ResponseBodyMethod;
  /**
   * With method 'copy': why the body did not go out with sendfile ('tls',
   * 'http2', 'no-addon', 'forced', 'kernel-refused', …; write-body.ts
   * CopyReason).
   */
  reason?: CopyReason;
  /** Set when the body failed after the head went out (the connection was destroyed). */
  error?: Error;
}

const bodies = new WeakMap<ServerResponse, ResponseBody>();

/** Records the body outcome of `res` (the last call wins). */
export function recordResponseBody(res: ServerResponse, body: ResponseBody): void {
  bodies.set(res, body);
}

/**
 * The body outcome serveStatic or sendFileResponse recorded for `res`, or
 * undefined when they did not answer it (another handler did, or it is still
 * in flight). Read it on the response's 'close' event.
 */
export function responseBodyOf(res: ServerResponse): ResponseBody | undefined {
  return bodies.get(res);
}
