/**
 * Writing Kafka's primitive types (see reader.ts for the encodings) into a
 * growing buffer. Responses are small apart from record data, which never
 * passes through here: a fetch response's records are file regions.
 */

const TWO_32 = 2 ** 32;
const INITIAL_BYTES = 256;

export class ProtocolWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.offset;
  }

  /** Makes room for `n` bytes and returns where they go. Call it before reading `this.buffer`: it may replace it. */
  private ensure(n: number): number {
    if (this.offset + n > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + n));
      this.buffer.copy(grown, 0, 0, this.offset);
      this.buffer = grown;
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  int8(value: number): this {
    const at = this.ensure(1);
    this.buffer.writeInt8(value, at);
    return this;
  }

  bool(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }

  int16(value: number): this {
    const at = this.ensure(2);
    this.buffer.writeInt16BE(value, at);
    return this;
  }

  int32(value: number): this {
    const at = this.ensure(4);
    this.buffer.writeInt32BE(value, at);
    return this;
  }

  /** An INT64 from a number (exact up to 2^53), -1 included. */
  int64(value: number): this {
    const at = this.ensure(8);
    const high = Math.floor(value / TWO_32);
    this.buffer.writeInt32BE(high, at);
    this.buffer.writeUInt32BE(value - high * TWO_32, at + 4);
    return this;
  }

  string(value: string): this {
    return this.nullableString(value);
  }

  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1);
    const length = Buffer.byteLength(value, 'utf8');
    this.int16(length);
    const at = this.ensure(length);
    this.buffer.write(value, at, length, 'utf8');
    return this;
  }

  bytes(value: Uint8Array): this {
    return this.nullableBytes(value);
  }

  nullableBytes(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    const at = this.ensure(value.length);
    this.buffer.set(value, at);
    return this;
  }

  /** Raw bytes with no length prefix. */
  raw(value: Uint8Array): this {
    const at = this.ensure(value.length);
    this.buffer.set(value, at);
    return this;
  }

  array<T>(items: readonly T[], writeElement: (writer: this, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) writeElement(this, item);
    return this;
  }

  nullableArray<T>(items: readonly T[] | null, writeElement: (writer: this, item: T) => void): this {
    if (items === null) return this.int32(-1);
    return this.array(items, writeElement);
  }

  int32Array(items: readonly number[]): this {
    return this.array(items, (w, n) => w.int32(n));
  }

  /** Overwrites 4 bytes already written at `at` (a size or header filled in last). */
  setInt32(at: number, value: number): this {
    this.buffer.writeInt32BE(value, at);
    return this;
  }

  /** The bytes written so far (a view: the writer must not be used after). */
  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}
