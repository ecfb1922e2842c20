/**
 * Splitting a connection's byte stream into request frames.
 *
 *   ┌ INT32 size ┐┌──────────── size bytes ────────────┐┌ INT32 size ┐┌── ...
 *   | 00 00 00 2a || api_key api_version correlation ... || 00 00 01 f0 || ...
 *
 * Chunks are kept as they arrive and joined only when a frame is whole, so
 * memory follows what the peer actually sent: a size of 2 GiB with nothing
 * behind it costs nothing, and one above the limit is refused at once.
 */

/** The smallest header: api_key, api_version, correlation_id, client_id length. */
export const MIN_FRAME_BYTES = 10;

export type FrameProblem = { problem: string };

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received but not yet returned as frames. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The first `n` buffered bytes (n ≤ pendingBytes), without consuming them. */
  peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, n);
  }

  /** The size of the next frame, once its 4-byte prefix is here. */
  nextSize(): number | undefined {
    return this.buffered >= 4 ? this.peekSize() : undefined;
  }

  private peekSize(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.chunks, 4);
    return head.readInt32BE(0);
  }

  /**
   * The next whole frame (without its size), undefined if more bytes are
   * needed, or the problem that makes the stream unusable (the connection
   * must close: after a bad size nothing can be framed again).
   */
  next(): Buffer | FrameProblem | undefined {
    if (this.buffered < 4) return undefined;
    const size = this.peekSize();
    if (size < MIN_FRAME_BYTES) return { problem: `request size ${size} is below the ${MIN_FRAME_BYTES}-byte minimum` };
    if (size > this.maxFrameBytes) return { problem: `request size ${size} exceeds the ${this.maxFrameBytes}-byte limit` };
    if (this.buffered < 4 + size) return undefined;
    const first = this.chunks[0]!;
    let frame: Buffer;
    if (first.length >= 4 + size) {
      frame = first.subarray(4, 4 + size);
      if (first.length === 4 + size) this.chunks.shift();
      else this.chunks[0] = first.subarray(4 + size);
    } else {
      // Join only the chunks this frame spans; the rest stay as they are.
      let covered = 0;
      let count = 0;
      while (covered < 4 + size) covered += this.chunks[count++]!.length;
      const joined = Buffer.concat(this.chunks.slice(0, count), covered);
      frame = joined.subarray(4, 4 + size);
      const rest = joined.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest, ...this.chunks.slice(count)] : this.chunks.slice(count);
    }
    this.buffered -= 4 + size;
    return frame;
  }

  /** Takes back every buffered byte not yet framed (a handler that reads the socket itself). */
  drain(): Buffer[] {
    const chunks = this.chunks;
    this.chunks = [];
    this.buffered = 0;
    return chunks;
  }
}
