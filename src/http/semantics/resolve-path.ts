/**
 * The pure half of the root jail: from a raw request-target (`req.url`) to
 * path segments that are safe to resolve beneath the root, or an error
 * status. No I/O: symlinks, and what exists, are open-beneath.ts's business;
 * this module guarantees that the segments alone can never name anything
 * above the root.
 *
 *   GET /docs/a%20b/./x.html?v=2       → ok: ['docs', 'a b', 'x.html'], query 'v=2'
 *   GET /docs/                         → ok: ['docs'], trailing slash (a directory request)
 *   GET /sub/../4k.bin                 → ok: ['4k.bin'] (RFC 3986 §5.2.4, inside the root)
 *   GET /4k.bin?x=1#frag               → ok: ['4k.bin'], query 'x=1' (the fragment dropped)
 *   GET /sub/../../etc/passwd          → 403 (climbs above the root)
 *   GET /%2e%2e/etc/passwd             → 403 (an encoded `..` is refused, never resolved)
 *   GET /%252e%252e/x                  → ok: ['%2e%2e', 'x'] (decoded once: a literal name)
 *   GET /a%2fb                         → 404 (an encoded separator names no file)
 *
 * Every segment of the result is non-empty, is not `.` or `..`, contains no
 * `/`, `\`, NUL or other control character, and is well-formed Unicode; so
 * `segments.join('/')` never starts with `/` and never climbs. Decisions, one
 * per attack, each with its status:
 *
 *  | request-target                               | status | reason              |
 *  |----------------------------------------------|--------|---------------------|
 *  | empty (or only a fragment)                   | 400    | empty               |
 *  | `*` (asterisk-form, only for OPTIONS)        | 400    | asterisk-form       |
 *  | `host:443`, `foo/bar` (no leading `/`)       | 400    | not-origin-form     |
 *  | absolute-form with a scheme but http(s)      | 400    | unsupported-scheme  |
 *  | a byte outside visible ASCII                 | 400    | invalid-character   |
 *  | raw `\` in the path                          | 400    | backslash           |
 *  | `%` not followed by two hex digits           | 400    | malformed-escape    |
 *  | decoded bytes not UTF-8 (`%c0%ae`, `%ff`)    | 400    | invalid-utf8        |
 *  | `%00`                                        | 400    | nul                 |
 *  | other C0 controls or DEL (`%0a`, `%7f`)      | 400    | control-character   |
 *  | `..` climbing above the root (`/a/../..`)    | 403    | above-root          |
 *  | `..` encoded (`%2e%2e`, `.%2e`), anywhere    | 403    | encoded-dot-dot     |
 *  | `%2f` inside a segment                       | 404    | encoded-slash       |
 *  | `%5c` inside a segment                       | 404    | encoded-backslash   |
 *
 * Why these: 400 is for targets that are not a valid origin-form path at all.
 * A traversal attempt gets 403 Forbidden, what serve-static (send) answers
 * for one, so apps switching over keep their status; the page says only
 * "Forbidden", never the root. Raw `..` segments that stay inside the root
 * are resolved (RFC 3986 §5.2.4 remove_dot_segments, as nginx and
 * express.static do): a client may send `/sub/../4k.bin` and means
 * `/4k.bin`. Encoded dots are not resolved: no browser sends them (it would
 * have removed the segment itself), so they are an attack signature or a
 * broken client, and decoding them into structure is how traversal bugs are
 * born. Encoded separators are valid URI syntax, but a file name cannot
 * contain `/`, and we refuse to let `%5c` reach the file system as a name
 * that other layers might read as a separator; so they name no file we
 * serve: 404, as Apache answers with AllowEncodedSlashes off.
 *
 * A `#` cannot appear in a request-target (RFC 9112 §3.2), but some clients
 * send the fragment anyway; like nginx and Express we ignore it and what
 * follows.
 *
 * Absolute-form (`GET http://host/path`) is accepted and its path used:
 * RFC 9112 §3.2.2 says a server MUST accept it; the host part plays no role
 * in choosing a file. Only `http` and `https` schemes are taken.
 *
 * Normalization that is safe and therefore done: empty segments (`//`) are
 * dropped (nginx's merge_slashes), `.` segments (raw or `%2e`) are dropped,
 * a raw `..` removes the segment before it, and a final `.` or `..` counts as
 * a trailing slash (RFC 3986 §5.2.4 turns `/a/.` into `/a/` and `/a/b/..`
 * into `/a/`). Percent-decoding happens exactly once, after splitting on `/`,
 * so `%252e%252e` is the literal name `%2e%2e`. The query is split off at
 * the first `?` and returned raw.
 */
import { encodePathSegments, encodeUrl } from './escape.js';

/** Why a request-target was refused (see the table in the module comment). */
export type UnsafePathReason =
  | 'empty'
  | 'asterisk-form'
  | 'not-origin-form'
  | 'unsupported-scheme'
  | 'invalid-character'
  | 'backslash'
  | 'malformed-escape'
  | 'invalid-utf8'
  | 'nul'
  | 'control-character'
  | 'above-root'
  | 'encoded-dot-dot'
  | 'encoded-slash'
  | 'encoded-backslash';

/** A request-target reduced to safe segments. */
export interface SafePath {
  kind: 'ok';
  /** Decoded segments below the root; empty for the root itself. */
  segments: string[];
  /** `segments.join('/')`: relative, '' for the root; never starts with `/`, never contains `..`. */
  relativePath: string;
  /** The raw query after the first `?` (still percent-encoded); '' when there is none. */
  query: string;
  /** The path ended in `/` (or `/.`): the client asked for a directory. True for `/`. */
  hasTrailingSlash: boolean;
}

/** A request-target refused with a status (400, 403 or 404) and a reason for logs. */
export interface UnsafePath {
  kind: 'error';
  status: 400 | 403 | 404;
  reason: UnsafePathReason;
}

/**
 * Reduces a raw request-target (`req.url`, or `req.originalUrl` under a
 * mounted router) to safe, decoded path segments plus the raw query, or
 * refuses it with 400/403/404 per the table in the module comment. Never
 * throws.
 */
export function resolveSafePath(requestTarget: string): SafePath | UnsafePath {
  const fragment = requestTarget.indexOf('#');
  const target = fragment < 0 ? requestTarget : requestTarget.slice(0, fragment);
  if (target === '') return refuse(400, 'empty');
  if (target === '*') return refuse(400, 'asterisk-form');
  for (let i = 0; i < target.length; i++) {
    const code = target.charCodeAt(i);
    // Visible ASCII only, as Node's parser enforces on the wire.
    if (code < 0x21 || code > 0x7e) return refuse(400, 'invalid-character');
  }

  let originForm = target;
  if (!target.startsWith('/')) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(target);
    if (scheme === null) return refuse(400, 'not-origin-form');
    const name = scheme[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') return refuse(400, 'unsupported-scheme');
    const afterScheme = target.slice(scheme[0].length);
    const pathStart = afterScheme.search(/[/?]/);
    if (pathStart < 0) originForm = '/';
    else if (afterScheme[pathStart] === '?') originForm = '/' + afterScheme.slice(pathStart);
    else originForm = afterScheme.slice(pathStart);
  }

  const queryStart = originForm.indexOf('?');
  const rawPath = queryStart < 0 ? originForm : originForm.slice(0, queryStart);
  const query = queryStart < 0 ? '' : originForm.slice(queryStart + 1);
  if (rawPath.includes('\\')) return refuse(400, 'backslash');

  // Split before decoding, so no escape can create a separator.
  const rawSegments = rawPath.split('/').slice(1);
  const segments: string[] = [];
  let hasTrailingSlash = false;
  for (let i = 0; i < rawSegments.length; i++) {
    const raw = rawSegments[i]!;
    const decoded = decodeSegment(raw);
    if (typeof decoded !== 'string') return decoded;
    const isLast = i === rawSegments.length - 1;
    if (decoded === '..') {
      if (raw !== '..') return refuse(403, 'encoded-dot-dot');
      // RFC 3986 §5.2.4 would stop at the root ("/../a" → "/a"); a client
      // that climbs above it is refused instead, as send does.
      if (segments.pop() === undefined) return refuse(403, 'above-root');
    } else if (decoded !== '' && decoded !== '.') {
      segments.push(decoded);
      continue;
    }
    if (isLast) hasTrailingSlash = true;
  }
  return { kind: 'ok', segments, relativePath: segments.join('/'), query, hasTrailingSlash };
}

/**
 * True when any segment starts with `.` (`.git`, `.env`, `a/.hidden/b`), the
 * test send and serve-static apply for their `dotfiles` option. The caller
 * maps it: `'ignore'` → 404, `'deny'` → 403, `'allow'` → serve.
 */
export function hasDotSegment(segments: readonly string[]): boolean {
  return segments.some((segment) => segment.startsWith('.'));
}

/**
 * Builds the `Location` for a redirect to `segments` (as `/`-rooted path),
 * with a trailing slash when `trailingSlash` (the `/dir` → `/dir/` redirect)
 * and the original query kept. The path is rebuilt from the decoded segments
 * and fully re-encoded, never copied from the request, so it always starts
 * with exactly one `/` followed by a non-`/`: a target such as `//evil.com`
 * cannot turn into a protocol-relative open redirect (serve-static's old
 * CVE-2015-1164). The query, already a URL fragment, only has characters
 * that may not appear in a URL encoded (encodeurl semantics).
 */
export function formatRedirectLocation(segments: readonly string[], query: string, trailingSlash = true): string {
  let location = '/' + encodePathSegments(segments);
  if (trailingSlash && segments.length > 0) location += '/';
  if (query !== '') location += '?' + encodeUrl(query);
  return location;
}

// fatal: invalid UTF-8 (overlong forms, surrogates, truncated sequences)
// throws instead of turning into U+FFFD; ignoreBOM: a leading EF BB BF is
// part of the name, not a byte-order mark to strip.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
// C0 controls and DEL; NUL is reported separately.
const CONTROL = /[\x01-\x1f\x7f]/;

// Percent-decodes one raw segment, exactly once, and checks what it became.
function decodeSegment(raw: string): string | UnsafePath {
  let decoded = raw;
  if (raw.includes('%')) {
    const bytes: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] !== '%') {
        bytes.push(raw.charCodeAt(i)); // visible ASCII, checked by the caller
        continue;
      }
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX_PAIR.test(hex)) return refuse(400, 'malformed-escape');
      bytes.push(parseInt(hex, 16));
      i += 2;
    }
    try {
      decoded = UTF8.decode(Uint8Array.from(bytes));
    } catch {
      return refuse(400, 'invalid-utf8');
    }
  }
  if (decoded.includes('\0')) return refuse(400, 'nul');
  if (CONTROL.test(decoded)) return refuse(400, 'control-character');
  if (decoded.includes('/')) return refuse(404, 'encoded-slash');
  if (decoded.includes('\\')) return refuse(404, 'encoded-backslash');
  return decoded;
}

function refuse(status: 400 | 403 | 404, reason: UnsafePathReason): UnsafePath {
  return { kind: 'error', status, reason };
}
