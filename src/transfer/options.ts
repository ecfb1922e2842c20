/**
 * Argument checks shared by the transfer functions, run before any native
 * call (the better-sqlite3 pattern): bad input fails fast with a TypeError or
 * RangeError carrying a ZC_ERR_* code.
 */
import { createError } from '../errors.js';

/** Validates an optional byte offset or length: a non-negative safe integer. */
export function checkByteCount(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw createError('ZC_ERR_INVALID_ARG', [name, 'a non-negative integer', value]);
  }
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) {
    throw createError('ZC_ERR_OUT_OF_RANGE', [name, `>= 0 and <= ${Number.MAX_SAFE_INTEGER}`, value]);
  }
  return value;
}

export function checkSignal(value: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof AbortSignal)) throw createError('ZC_ERR_INVALID_ARG', [name, 'an AbortSignal', value]);
  return value;
}

export function checkOptionsObject<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw createError('ZC_ERR_INVALID_ARG', [name, 'an object', value]);
  return value as Partial<T>;
}

export function checkMethod<M extends string>(value: unknown, allowed: readonly M[], name = 'options.method'): M | undefined {
  if (value === undefined || value === null) return undefined;
  if (!allowed.includes(value as M)) {
    throw createError('ZC_ERR_INVALID_ARG', [name, `one of ${allowed.map((m) => `'${m}'`).join(', ')}`, value]);
  }
  return value as M;
}

export function checkBuffer(value: unknown, name: string): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof Uint8Array)) throw createError('ZC_ERR_INVALID_ARG', [name, 'a Buffer or Uint8Array', value]);
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
