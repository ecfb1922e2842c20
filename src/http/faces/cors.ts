/**
 * `zerocopy serve --cors`: public, credential-less CORS for static files
 * (Fetch standard, "CORS protocol"). Everything served is public already, so
 * any origin may read it; credentials are never allowed (no
 * Access-Control-Allow-Credentials), which is what makes `*` safe.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Response headers a script may read beyond the CORS-safelisted ones
 * (Content-Length, Content-Type, Last-Modified, Cache-Control … are already
 * readable): what range and revalidation logic in a page needs.
 */
const EXPOSED_HEADERS = 'Accept-Ranges, Content-Encoding, Content-Range, ETag';
/** Request headers a page may send cross-origin to a static server. */
const ALLOWED_HEADERS = 'Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range';
/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7200). */
const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/**
 * Adds the CORS headers to `res`. Answers a preflight (OPTIONS with
 * Access-Control-Request-Method) with 204 and returns true; the caller stops
 * there. Returns false for every other request, which goes on as usual.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse): boolean {
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, HEAD',
      'Access-Control-Allow-Headers': ALLOWED_HEADERS,
      'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
      'Content-Length': '0',
    });
    res.end();
    return true;
  }
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  return false;
}
