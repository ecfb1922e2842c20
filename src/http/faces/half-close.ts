/**
 * Answering clients that half-close after their request.
 *
 * `printf 'GET /1m.bin HTTP/1.1\r\n...\r\n\r\n' | nc -N host 8080`, many
 * health checkers and HTTP/1.0 tools send a request and then shutdown(SHUT_WR)
 * their side: they still read the response. Node's http.Server (20.x,
 * lib/_http_server.js socketOnEnd) answers the client's FIN by calling
 * `socket.end()` at once unless the server's `httpAllowHalfOpen` flag is set
 * (it defaults to false and has no public option). A response still being
 * produced then loses its socket:
 *
 *  - through Node's own streams (the copy path, any fs.createReadStream
 *    handler): the writes after end() are buffered in the response and never
 *    sent; the client gets nothing (50 of 50 tried with a plain
 *    `createReadStream(file).pipe(res)` handler);
 *  - on the sendfile path: the job writes on a dup of the socket, but Node's
 *    end() shuts the socket's write side (shutdown(SHUT_WR) once its own
 *    queue drains), so the job fails with EPIPE mid-body, or the transfer
 *    refuses a socket that is no longer writable; which one depends on
 *    whether the FIN is read before or during the takeover: the "1 in 5"
 *    of issue 10 §2 (1 in 50 with a warm cache, 50 in 50 with the cache off).
 *
 * With `httpAllowHalfOpen` set, Node instead marks the response in flight
 * as the connection's last (`_last`), finishes it, and then closes: what
 * nginx does. The flag is read per FIN, so setting it when the first request
 * is handled (before any await, so before the FIN can be processed) covers
 * that request too.
 */
import type { IncomingMessage } from 'node:http';

interface HalfOpenFlag {
  httpAllowHalfOpen?: unknown;
}

/**
 * Makes the server that `req` arrived on finish responses to clients that
 * half-closed (see the module comment). Call synchronously when the request
 * is handed over. Affects every route of that server, which is the point:
 * they all answer such clients in full instead of silently dropping the
 * response; the connection still closes once the response is done. A no-op
 * for servers that already allow it, and for requests without such a server
 * (HTTP/2 streams: the flag only matters for HTTP/1 fallback sockets, where
 * Node's same socketOnEnd reads it).
 *
 * Removal condition: Node exposes the flag as a server option (it does not
 * in 20.x), and the docs tell users to set it.
 */
export function finishResponsesAfterClientFin(req: IncomingMessage): void {
  let server: HalfOpenFlag | null | undefined;
  try {
    // An HTTP/2 compat request's socket is a Proxy that may throw once its
    // session is gone; there is nothing to set then.
    server = (req.socket as unknown as { server?: HalfOpenFlag } | null)?.server;
  } catch {
    return;
  }
  if (server !== undefined && server !== null && typeof server === 'object' && server.httpAllowHalfOpen !== true) {
    server.httpAllowHalfOpen = true;
  }
}
