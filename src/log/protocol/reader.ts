/**
 * Reading Kafka's primitive types from one request frame, every read bounds
 * checked. A frame that ends early, or declares a string, bytes or array
 * longer than what is left of it, throws MalformedRequestError: the
 * connection is closed (as Kafka does) and nothing is allocated for the
 * declared size, so a length of 2^31-1 costs nothing.
 *
 * Encodings (Kafka protocol guide, "Protocol Primitive Types"), big-endian:
 *   INT8/16/32/64, BOOLEAN (one byte, non-zero = true)
 *   STRING           INT16 length N, then N bytes of UTF-8
 *   NULLABLE_STRING  INT16 length, -1 = null
 *   BYTES            INT32 length N, then N bytes (-1 = null for NULLABLE_BYTES)
 *   ARRAY            INT32 count N (-1 = null), then N elements
 */

/** A request that cannot be parsed: its connection is closed, nothing else is affected. */
export class MalformedRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedRequestError';
  }
}

const TWO_32 = 2 ** 32;

export class ProtocolReader {
  private offset: number;

  constructor(private readonly buffer: Buffer, offset = 0) {
    this.offset = offset;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  private take(n: number, what: string): number {
    if (n > this.buffer.length - this.offset) {
      throw new MalformedRequestError(`${what}: needs ${n} bytes, ${this.buffer.length - this.offset} left`);
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.take(1, 'INT8'));
  }

  bool(): boolean {
    return this.buffer[this.take(1, 'BOOLEAN')] !== 0;
  }

  int16(): number {
    return this.buffer.readInt16BE(this.take(2, 'INT16'));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.take(4, 'INT32'));
  }

  /**
   * An INT64 as a JavaScript number: exact up to 2^53, which every offset,
   * timestamp and producer id this broker meets stays under.
   */
  int64(): number {
    const at = this.take(8, 'INT64');
    return this.buffer.readInt32BE(at) * TWO_32 + this.buffer.readUInt32BE(at + 4);
  }

  string(): string {
    const value = this.nullableString();
    if (value === null) throw new MalformedRequestError('STRING: null where the schema allows none');
    return value;
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < 0) throw new MalformedRequestError(`STRING: negative length ${length}`);
    const at = this.take(length, 'STRING');
    return this.buffer.toString('utf8', at, at + length);
  }

  /** BYTES as a view into the frame (no copy). */
  bytes(): Buffer {
    const value = this.nullableBytes();
    if (value === null) throw new MalformedRequestError('BYTES: null where the schema allows none');
    return value;
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < 0) throw new MalformedRequestError(`BYTES: negative length ${length}`);
    const at = this.take(length, 'BYTES');
    return this.buffer.subarray(at, at + length);
  }

  /**
   * An ARRAY. Every element takes at least `minElementBytes` bytes, so a
   * count larger than the rest of the frame allows is refused before the
   * loop starts.
   */
  array<T>(readElement: (reader: ProtocolReader) => T, minElementBytes = 1): T[] {
    const value = this.nullableArray(readElement, minElementBytes);
    if (value === null) throw new MalformedRequestError('ARRAY: null where the schema allows none');
    return value;
  }

  nullableArray<T>(readElement: (reader: ProtocolReader) => T, minElementBytes = 1): T[] | null {
    const count = this.int32();
    if (count === -1) return null;
    if (count < 0) throw new MalformedRequestError(`ARRAY: negative count ${count}`);
    if (count * minElementBytes > this.remaining) {
      throw new MalformedRequestError(`ARRAY: ${count} elements cannot fit in ${this.remaining} bytes`);
    }
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(readElement(this));
    return items;
  }

  int32Array(): number[] {
    return this.array((r) => r.int32(), 4);
  }

  /** Throws unless the whole frame was read: trailing bytes mean we misread it. */
  expectEnd(what: string): void {
    if (this.remaining !== 0) throw new MalformedRequestError(`${what}: ${this.remaining} unexpected trailing bytes`);
  }
}
