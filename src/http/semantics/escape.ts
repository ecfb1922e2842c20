/**
 * Escaping for the two places a path leaves the server as text: a URL (the
 * `Location` header, an `href` in a directory listing) and HTML (listing and
 * error pages). Pure string functions.
 *
 *   segments ['a b', 'x%y', 'q?.html']  →  encodePathSegments  →  a%20b/x%25y/q%3F.html
 *   '<a href="…">'                      →  escapeHtml          →  &lt;a href=&quot;…&quot;&gt;
 */

/**
 * Percent-encodes decoded path segments and joins them with `/`. Every byte
 * outside unreserved characters and `! ' ( ) *` is encoded (UTF-8), which
 * includes `%`, `/`, `\`, `?`, `#` and `:`; so the result names exactly these
 * segments once decoded, cannot start a scheme (`javascript:` becomes
 * `javascript%3A`) and cannot become a protocol-relative `//host`. Unpaired
 * surrogates become U+FFFD first, so this never throws.
 */
export function encodePathSegments(segments: readonly string[]): string {
  return segments.map((segment) => encodeURIComponent(replaceLoneSurrogates(segment))).join('/');
}

// RFC 3986 §2.2/§2.3: reserved and unreserved characters may appear as they are.
const URI_CHARACTER = /[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/**
 * Encodes a string that is already meant as a URL (encodeurl semantics):
 * characters that may appear in a URI (RFC 3986 reserved and unreserved) and
 * valid `%XX` escapes are left alone; everything else, including a `%` that
 * does not start a valid escape, is percent-encoded as UTF-8. Unpaired
 * surrogates become U+FFFD. Idempotent on its own output.
 * `encodeUrl('/a b/%41%zz')` → `/a%20b/%41%25zz`.
 */
export function encodeUrl(url: string): string {
  const text = replaceLoneSurrogates(url);
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (URI_CHARACTER.test(char)) {
      out += char;
    } else if (char === '%' && HEX_PAIR.test(text.slice(i + 1, i + 3))) {
      out += char;
    } else {
      // Keep a surrogate pair together so encodeURIComponent sees the code point.
      const code = text.charCodeAt(i);
      const isPair = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length;
      out += encodeURIComponent(isPair ? text.slice(i, i + 2) : char);
      if (isPair) i += 1;
    }
  }
  return out;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for HTML element content and quoted attribute values: `&`,
 * `<`, `>`, `"` and `'` become character references (escape-html's set).
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function replaceLoneSurrogates(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}
