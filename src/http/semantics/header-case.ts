/**
 * Header names on the wire in their conventional case. The pure modules use
 * lower-case names (so lookups never miss a differently cased duplicate);
 * Node writes names exactly as given to setHeader, and while HTTP field names
 * are case-insensitive (RFC 9110 §5.1), people read `curl -i` output and some
 * old clients compare case-sensitively. Pure.
 */

const SPECIAL: Readonly<Record<string, string>> = Object.freeze({
  etag: 'ETag',
  'content-security-policy': 'Content-Security-Policy',
  'x-content-type-options': 'X-Content-Type-Options',
  'www-authenticate': 'WWW-Authenticate',
});

const cache = new Map<string, string>();
/** Names seen are few (a dozen); the cap only guards against unbounded growth. */
const MAX_CACHED_NAMES = 256;

/** `content-type` → `Content-Type`, `etag` → `ETag`; other spellings pass through word-capitalized. */
export function canonicalHeaderName(name: string): string {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const lower = name.toLowerCase();
  const canonical = SPECIAL[lower] ?? lower.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
  if (cache.size < MAX_CACHED_NAMES) cache.set(name, canonical);
  return canonical;
}
