/**
 * Content-Type from a file name's extension, through the maintained
 * `mime-types` table (mime-db). Pure: a name in, a header value out.
 */
import { contentType } from 'mime-types';

/** What we send when the extension is unknown or absent (RFC 9110 §8.3: unknown bytes). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/**
 * Returns the Content-Type for `fileName` (a name or a `/`-separated path;
 * only the last segment's extension counts, case-insensitively), with
 * `; charset=utf-8` for text types as `mime-types.contentType` adds it
 * (`index.html` → `text/html; charset=utf-8`, `a.png` → `image/png`).
 * Names without an extension, including dotfiles such as `.bashrc` and a
 * file called `html`, get `fallback` (default `application/octet-stream`).
 * For a precompressed sibling pass the identity name (`app.js`, not
 * `app.js.br`): the type describes the decoded representation and the
 * coding goes in Content-Encoding (RFC 9110 §8.4).
 */
export function lookupContentType(fileName: string, fallback: string = DEFAULT_CONTENT_TYPE): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  // dot === 0 is a dotfile with no extension (as path.extname sees it).
  if (dot <= 0 || dot === base.length - 1) return fallback;
  return contentType(base.slice(dot)) || fallback;
}
