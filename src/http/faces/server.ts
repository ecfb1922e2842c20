/**
 * A standalone static-file server: node:http + serveStatic, with the limits
 * a server facing the open network needs, an access log, and a graceful
 * shutdown. `zerocopy serve` is a thin shell around this.
 *
 * Limits and what each one stops:
 *
 *   maxHeaderSize      huge request heads             → 431 (Node's parser)
 *   headersTimeout     slowloris: a head trickling in → 408, closed
 *   requestTimeout     a whole request trickling in   → 408, closed
 *   keepAliveTimeout   idle keep-alive connections    → closed
 *   idleTimeout        a client that stops reading (or sending) mid-response:
 *                      no byte moved for this long    → closed. During a
 *                      sendfile body the transfer layer emulates the socket
 *                      timer (native writes never refresh Node's), guard.ts.
 *   maxConnections     fd exhaustion by many clients  → new sockets closed at accept
 *   backlog            a burst of connects beyond what the loop accepts at once
 *                      waits in the kernel's accept queue (DEFAULT_LISTEN_BACKLOG)
 *   maxRanges          Range headers with many parts  → whole file (200)
 *
 * With `tls`, the server speaks HTTPS: HTTP/2, and HTTP/1.1 for clients that
 * do not offer h2 in ALPN (`http2.createSecureServer({ allowHTTP1: true })`).
 * The kernel cannot encrypt, so bodies then go through user space ('copy'),
 * and the access log says so.
 */
import { once } from 'node:events';
import http from 'node:http';
import type http2 from 'node:http2';
import { createRequire } from 'node:module';
import type net from 'node:net';
import type tls from 'node:tls';

import { AccessLog, accessLogEntry, formatCommonLogLine, formatJsonLogLine, type AccessLogEntry, type LogSink } from './access-log.js';
import { applyCors } from './cors.js';
import { serveStatic, type StaticHandler } from './middleware.js';
import type { ServeStaticOptions } from '../pipeline/static-options.js';
import { DEFAULT_LISTEN_BACKLOG } from '../../listen-backlog.js';
import { checkByteCount } from '../../transfer/options.js';

/** Defaults, in the units their names carry. */
export const DEFAULT_MAX_HEADER_SIZE_BYTES = 16 << 10; // Node's and nginx's large_client_header_buffers order
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000; // Node's default; nginx uses 75 s
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000; // nginx send_timeout
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** How often Node checks headersTimeout/requestTimeout; its default (30 s) would let a slowloris live 30 s past the limit. */
const MAX_CONNECTIONS_CHECK_INTERVAL_MS = 1_000;

/** serveStatic's options plus the server's: log, CORS, limits (ms and bytes as named), shutdown. */
export interface StaticServerOptions extends ServeStaticOptions {
  /** Directory to serve. */
  root: string;
  /** Public CORS: `Access-Control-Allow-Origin: *` and preflight answers (cors.ts). */
  cors?: boolean;
  /** Access log: true → stdout, or a stream / function receiving batches of lines. */
  log?: boolean | LogSink;
  /** 'common' (CLF + body method, default), 'json' (one object per line), or a function of the entry. */
  logFormat?: 'common' | 'json' | ((entry: AccessLogEntry) => string);
  /**
   * HTTPS: PEM certificate (chain) and private key, as `tls.createSecureContext`
   * takes them. The server then answers HTTP/2 and, by ALPN, HTTP/1.1;
   * bodies are encrypted in user space, so they take the 'copy' path.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Largest request head in bytes; bigger → 431. */
  maxHeaderSize?: number;
  /** ms to receive a request head; slower → 408 and close. */
  headersTimeout?: number;
  /** ms to receive a whole request. */
  requestTimeout?: number;
  /** ms an idle keep-alive connection stays open. */
  keepAliveTimeout?: number;
  /** ms without any byte moving on a connection (slow or stalled clients) before it is closed; 0 disables. */
  idleTimeout?: number;
  /** Open connections accepted at once; more are closed on accept. */
  maxConnections?: number;
  /** listen(2) backlog: connections the kernel queues before they are accepted (capped by net.core.somaxconn). */
  backlog?: number;
  /** Requests served per connection before it is closed (0: unlimited, Node's default). */
  maxRequestsPerSocket?: number;
  /** ms `close()` lets in-flight responses finish before destroying their connections. */
  shutdownTimeout?: number;
}

/** What createStaticServer returns: the configured server, its handler, listen and graceful close. */
export interface StaticServer {
  /**
   * The node:http server, or with `tls` the node:http2 secure server
   * (already configured; not listening until `listen`).
   */
  readonly server: http.Server | http2.Http2SecureServer;
  /** The serveStatic handler it runs. */
  readonly handler: StaticHandler;
  /**
   * Listens on host:port (defaults 127.0.0.1 and 8080; host '' is every
   * interface, IPv6 and IPv4 where the system allows); resolves with the
   * bound address, rejects with listen(2)'s error (EADDRINUSE …).
   */
  listen(port?: number, host?: string): Promise<net.AddressInfo>;
  /**
   * Graceful shutdown: stops accepting, closes idle keep-alive connections,
   * lets in-flight responses finish (their connections then close) for up to
   * `timeoutMs` (default `shutdownTimeout`), destroys what is left, releases
   * the handler's fds and flushes the log. Resolves with how many
   * connections had to be destroyed.
   */
  close(timeoutMs?: number): Promise<{ destroyed: number }>;
}

function positive(value: number | undefined, fallback: number): number {
  return value === undefined ? fallback : value;
}

/**
 * Creates (but does not start) a static server for `options.root`. The
 * handler is created with `fallthrough: false` semantics (there is no next
 * middleware): every request is answered here.
 */
export function createStaticServer(options: StaticServerOptions): StaticServer {
  const { root, cors, log, logFormat, maxHeaderSize, headersTimeout, requestTimeout, keepAliveTimeout, idleTimeout,
    maxConnections, backlog, maxRequestsPerSocket, shutdownTimeout, tls: tlsOptions, ...staticOptions } = options;
  // Checked now, not at listen(): a bad value is the caller's mistake, said at once.
  const listenBacklog = checkByteCount(backlog, 'options.backlog') || DEFAULT_LISTEN_BACKLOG;
  const handler = serveStatic(root, staticOptions);
  const headersMs = positive(headersTimeout, DEFAULT_HEADERS_TIMEOUT_MS);
  const requestMs = Math.max(positive(requestTimeout, DEFAULT_REQUEST_TIMEOUT_MS), headersMs);
  const http1Options = {
    maxHeaderSize: positive(maxHeaderSize, DEFAULT_MAX_HEADER_SIZE_BYTES),
    headersTimeout: headersMs,
    requestTimeout: requestMs,
    keepAliveTimeout: positive(keepAliveTimeout, DEFAULT_KEEP_ALIVE_TIMEOUT_MS),
    connectionsCheckingInterval: Math.max(50, Math.min(MAX_CONNECTIONS_CHECK_INTERVAL_MS, Math.floor(headersMs / 2))),
    // Node's default for HTTP servers; small responses leave in one segment anyway (cork/writev).
    noDelay: true,
  };
  const server = tlsOptions ? createSecureServer(tlsOptions, http1Options) : http.createServer(http1Options);
  server.maxConnections = positive(maxConnections, DEFAULT_MAX_CONNECTIONS);
  if (maxRequestsPerSocket && server instanceof http.Server) server.maxRequestsPerSocket = maxRequestsPerSocket;
  // Applied to each socket (HTTP/2: each session); 'timeout' with no listener destroys it.
  if (server instanceof http.Server) server.timeout = positive(idleTimeout, DEFAULT_IDLE_TIMEOUT_MS);
  else server.setTimeout(positive(idleTimeout, DEFAULT_IDLE_TIMEOUT_MS));

  const sink = log === true ? process.stdout : log === false || log === undefined ? undefined : log;
  const accessLog = sink ? new AccessLog(sink) : undefined;
  const format = typeof logFormat === 'function' ? logFormat : logFormat === 'json' ? formatJsonLogLine : formatCommonLogLine;
  let closing = false;
  const sockets = new Set<net.Socket>();
  const connections = trackConnections(server, sockets);

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const startedAt = Date.now();
    connections.requestStarted(req, res);
    if (accessLog) res.once('close', () => accessLog.write(format(accessLogEntry(req, res, startedAt))));
    if (closing && req.httpVersionMajor === 1) {
      // Answer what is already here, then let the connection go. (HTTP/2
      // forbids the header; its sessions get a GOAWAY from close().)
      res.setHeader('Connection', 'close');
      res.once('close', () => setImmediate(() => connections.closeIdle()));
    }
    if (cors && applyCors(req, res)) return;
    handler(req, res);
  });

  return {
    server,
    handler,
    async listen(port = 8080, host = '127.0.0.1') {
      if (host === '') server.listen({ port, backlog: listenBacklog });
      else server.listen({ port, host, backlog: listenBacklog });
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error; })]);
      return server.address() as net.AddressInfo;
    },
    async close(timeoutMs = positive(shutdownTimeout, DEFAULT_SHUTDOWN_TIMEOUT_MS)) {
      closing = true;
      let destroyed = 0;
      const done = new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve()); // also closes idle keep-alive connections (Node ≥ 19)
      });
      connections.closeSessions();
      // Responses in flight when close() began were promised keep-alive;
      // each one's connection is closed as soon as it goes idle.
      const sweep = setInterval(() => connections.closeIdle(), 50);
      const deadline = setTimeout(() => {
        destroyed = sockets.size;
        connections.closeAll();
      }, timeoutMs);
      try {
        await done;
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
      }
      await handler.close();
      accessLog?.close();
      return { destroyed };
    },
  };
}

/**
 * The HTTPS server: HTTP/2 with HTTP/1.1 by ALPN. allowHTTP1 hands HTTP/1.1
 * connections to node:http's connection handling, which reads the slowloris
 * timeouts from the server object (createSecureServer does not take them as
 * options); HTTP/2 gets the header limit as SETTINGS_MAX_HEADER_LIST_SIZE.
 */
function createSecureServer(
  credentials: { cert: string | Buffer; key: string | Buffer },
  limits: { maxHeaderSize: number; headersTimeout: number; requestTimeout: number; keepAliveTimeout: number },
): http2.Http2SecureServer {
  // Loaded only for HTTPS: node:http2 is ~4 MiB of a plain server's memory (issue 11).
  const { createSecureServer: create } = createRequire(import.meta.url)('node:http2') as typeof http2;
  const server = create({
    allowHTTP1: true,
    cert: credentials.cert,
    key: credentials.key,
    settings: { maxHeaderListSize: limits.maxHeaderSize },
  });
  Object.assign(server, {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    maxHeaderSize: limits.maxHeaderSize,
  });
  return server;
}

/** How close() reaches connections, for each kind of server. */
interface ConnectionControl {
  /** Called for every request (HTTP/1 over TLS needs its own idle bookkeeping). */
  requestStarted(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Closes keep-alive connections that carry no request now. */
  closeIdle(): void;
  /** HTTP/2: a GOAWAY on every session (no new streams; open ones finish). */
  closeSessions(): void;
  /** Destroys every connection (the deadline). */
  closeAll(): void;
}

/**
 * Tracks the server's connections in `sockets`. node:http knows which of its
 * connections are idle (closeIdleConnections); the HTTP/2 server does not,
 * so for it the HTTP/1.1 requests in flight are counted per socket, and
 * HTTP/2 sessions are closed with a GOAWAY, which lets their streams finish.
 */
function trackConnections(server: http.Server | http2.Http2SecureServer, sockets: Set<net.Socket>): ConnectionControl {
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  if (server instanceof http.Server) {
    server.on('connection', track);
    return {
      requestStarted: () => {},
      closeIdle: () => server.closeIdleConnections(),
      closeSessions: () => {},
      closeAll: () => {
        // closeAllConnections covers sockets with a parser; a socket whose
        // parser was already freed (mid-body) is destroyed directly.
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      },
    };
  }
  const sessions = new Set<http2.ServerHttp2Session>();
  const busy = new Map<net.Socket, number>();
  const http1Sockets = new Set<tls.TLSSocket>();
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    track(socket);
    if (socket.alpnProtocol !== 'h2') http1Sockets.add(socket);
    socket.once('close', () => {
      http1Sockets.delete(socket);
      busy.delete(socket);
    });
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return {
    requestStarted: (req, res) => {
      if (req.httpVersionMajor !== 1) return;
      const socket = req.socket;
      busy.set(socket, (busy.get(socket) ?? 0) + 1);
      res.once('close', () => busy.set(socket, (busy.get(socket) ?? 1) - 1));
    },
    closeIdle: () => {
      for (const socket of http1Sockets) if (!busy.get(socket)) socket.end();
    },
    closeSessions: () => {
      for (const session of sessions) session.close();
    },
    closeAll: () => {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}
