/**
 * Small generated pages (errors, redirects, directory listings) as a Buffer
 * plus the headers that must go with it. Pure.
 *
 *   HTTP/1.1 404 Not Found
 *   Content-Type: text/html; charset=utf-8
 *   Content-Length: 136
 *   Content-Security-Policy: default-src 'none'
 *   X-Content-Type-Options: nosniff
 *
 *   <!DOCTYPE html>
 *   <html lang="en">
 *   <head>
 *   <meta charset="utf-8">
 *   <title>Error</title>
 *   </head>
 *   <body>
 *   <pre>Not Found</pre>
 *   </body>
 *   </html>
 *
 * `default-src 'none'` means a page we generate can load and run nothing,
 * so text that slipped into it unescaped still cannot execute; `nosniff`
 * keeps browsers from reading it as anything but HTML. Both follow send.
 */
import { encodePathSegments, escapeHtml } from '../semantics/escape.js';
import { describeStatus } from './status.js';

/** Headers every generated page carries (lower-case names). */
export const GENERATED_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'none'",
  'x-content-type-options': 'nosniff',
});

/** A complete small response: status, headers (lower-case names) and body. */
export interface GeneratedPage {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Builds an HTML page with `title` (escaped here) and `bodyHtml` (trusted
 * HTML: the caller escapes anything it interpolates), with Content-Type,
 * Content-Length and the GENERATED_PAGE_HEADERS.
 */
export function buildHtmlPage(status: number, title: string, bodyHtml: string): GeneratedPage {
  const html =
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<title>${escapeHtml(title)}</title>\n</head>\n<body>\n${bodyHtml}\n</body>\n</html>\n`;
  const body = Buffer.from(html, 'utf8');
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(body.length),
      ...GENERATED_PAGE_HEADERS,
    },
    body,
  };
}

/** The error page for `status`: its fixed reason text only (`describeStatus`), never an error message. */
export function buildErrorPage(status: number): GeneratedPage {
  return buildHtmlPage(status, 'Error', `<pre>${escapeHtml(describeStatus(status))}</pre>`);
}

/**
 * A redirect (default 301) to `location`, which must already be encoded for
 * a URL (formatRedirectLocation does that); the page links to it for clients
 * that do not follow redirects, escaped for HTML.
 */
export function buildRedirectPage(location: string, status: 301 | 302 | 303 | 307 | 308 = 301): GeneratedPage {
  const href = escapeHtml(location);
  const page = buildHtmlPage(status, 'Redirecting', `<pre>Redirecting to <a href="${href}">${href}</a></pre>`);
  page.headers['location'] = location;
  return page;
}

/** One entry of a directory listing. */
export interface ListingEntry {
  name: string;
  isDirectory: boolean;
}

/**
 * The `--listing` page of the directory at `segments` (decoded, as
 * resolveSafePath gives them; the page is served at the URL ending in `/`).
 * Directories come first, then files, each group in code-unit order of the
 * name; directories get a trailing `/`. Links are relative to the directory
 * (so they work under a mount prefix), each name percent-encoded as one
 * segment (`javascript:x` cannot become a scheme, `a/b` cannot add a level)
 * and HTML-escaped; the visible text is HTML-escaped. A `../` link leads up
 * except at the root. The caller decides which entries to show (dotfiles).
 */
export function buildListingPage(segments: readonly string[], entries: readonly ListingEntry[]): GeneratedPage {
  const title = 'Index of /' + segments.map((segment) => segment + '/').join('');
  const sorted = [...entries].sort(
    (a, b) => Number(b.isDirectory) - Number(a.isDirectory) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const items = sorted.map((entry) => {
    const suffix = entry.isDirectory ? '/' : '';
    const href = escapeHtml(encodePathSegments([entry.name]) + suffix);
    return `<li><a href="${href}">${escapeHtml(entry.name + suffix)}</a></li>`;
  });
  if (segments.length > 0) items.unshift('<li><a href="../">../</a></li>');
  return buildHtmlPage(200, title, `<h1>${escapeHtml(title)}</h1>\n<ul>\n${items.join('\n')}\n</ul>`);
}
