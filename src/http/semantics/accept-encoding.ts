/**
 * Choosing a precompressed sibling (`x.js.br`, `x.js.gz`) from the request's
 * Accept-Encoding (RFC 9110 §12.5.3). Pure: a header and the codings on
 * disk in, the coding to send out.
 *
 *   Accept-Encoding: gzip, deflate, br;q=1.0, *;q=0.1   → br (tie at q=1: server preference)
 *   Accept-Encoding: gzip;q=0, br;q=0                    → none: send the file as is
 *   Accept-Encoding: *                                   → br
 *   (no header)                                          → none (RFC 9110 §12.5.3: any coding is
 *                                                          acceptable, but nginx's gzip_static and
 *                                                          every browser-facing server treat it as
 *                                                          identity-only; a client that cannot
 *                                                          decode would break)
 */

/** Content codings we can serve from a sibling file, in order of preference (smaller first). */
export type PrecompressedEncoding = 'br' | 'gzip';

/** The sibling file suffix of each coding. */
export const ENCODING_SUFFIX: Readonly<Record<PrecompressedEncoding, string>> = Object.freeze({ br: '.br', gzip: '.gz' });

/** Server preference when qualities tie: brotli files are smaller. */
export const ENCODING_PREFERENCE: readonly PrecompressedEncoding[] = Object.freeze(['br', 'gzip']);

interface Weighted {
  coding: string;
  q: number;
}

// "gzip;q=0.8" → { coding: 'gzip', q: 0.8 }. A malformed weight makes the
// member count as q=0 (not acceptable): guessing wrong the other way would
// send bytes the client cannot decode.
function parseMember(member: string): Weighted | undefined {
  const [rawCoding, ...params] = member.split(';');
  const coding = rawCoding!.trim().toLowerCase();
  if (coding === '') return undefined;
  let q = 1;
  for (const param of params) {
    const [name, value] = param.split('=').map((s) => s.trim());
    if (name?.toLowerCase() !== 'q') continue;
    q = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/.test(value ?? '') ? Number(value) : 0;
  }
  // x-gzip is an alias of gzip (RFC 9110 §8.4.1.3).
  return { coding: coding === 'x-gzip' ? 'gzip' : coding, q };
}

/**
 * The coding to serve among `available` (codings whose sibling exists), or
 * undefined to send the unencoded file. The highest non-zero quality wins;
 * an explicit entry beats `*`; ties go to ENCODING_PREFERENCE order.
 * `header` may be a repeated field joined by Node (", ").
 */
export function negotiateEncoding(header: string | string[] | undefined, available: readonly PrecompressedEncoding[]): PrecompressedEncoding | undefined {
  if (header === undefined || available.length === 0) return undefined;
  const text = Array.isArray(header) ? header.join(',') : header;
  const weights = new Map<string, number>();
  for (const member of text.split(',')) {
    const parsed = parseMember(member);
    if (parsed) weights.set(parsed.coding, Math.max(weights.get(parsed.coding) ?? 0, parsed.q));
  }
  let best: PrecompressedEncoding | undefined;
  let bestQ = 0;
  for (const coding of ENCODING_PREFERENCE) {
    if (!available.includes(coding)) continue;
    const q = weights.get(coding) ?? weights.get('*') ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}
