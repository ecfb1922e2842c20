/**
 * Every error code the library itself raises, in one table (the undici /
 * fastify pattern). System call failures are not here: they surface as Node
 * core-style errors built by `native/errno.ts` (`code: 'EPIPE'`, `errno`,
 * `syscall`). docs/errors.md documents each code; a test fails when a code is
 * missing there.
 */

const BRAND = Symbol.for('zerocopy.error');

type ErrorBase = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

interface CodeSpec {
  base: ErrorBase;
  name?: string;
  message: (...args: never[]) => string;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
  return `type ${typeof value} (${shown})`;
}

/** The table: code → base class and message template. */
export const codes = {
  ZC_ERR_INVALID_ARG: {
    base: TypeError,
    message: (name: string, expected: string, actual: unknown) =>
      `The "${name}" argument must be ${expected}. Received ${describeValue(actual)}`,
  },
  ZC_ERR_OUT_OF_RANGE: {
    base: RangeError,
    message: (name: string, expected: string, actual: unknown) =>
      `The value of "${name}" is out of range. It must be ${expected}. Received ${String(actual)}`,
  },
  ZC_ERR_FILE_TRUNCATED: {
    base: Error,
    message: (sent: number, expected: number) =>
      `The file ended after ${sent} of ${expected} bytes: it was truncated during the transfer`,
  },
  ZC_ERR_FILE_CHANGED: {
    base: Error,
    message: (sent: number, expected: number) =>
      `The file changed after ${sent} of ${expected} bytes were sent: the response was abandoned rather than mix two versions`,
  },
  ZC_ERR_UNEXPECTED_EOF: {
    base: Error,
    message: (sent: number, expected: number) => `The source ended after ${sent} of ${expected} bytes`,
  },
  ZC_ERR_SOCKET_CLOSED: {
    base: Error,
    message: () => 'The socket was closed before the transfer finished',
  },
  ZC_ERR_SOCKET_UNUSABLE: {
    base: Error,
    message: (why: string) => `The socket cannot be used for this transfer: ${why}`,
  },
  ZC_ERR_NOT_A_PIPE: {
    base: TypeError,
    message: (name: string) => `The "${name}" argument must be a pipe file descriptor`,
  },
  ZC_ERR_UNSUPPORTED: {
    base: Error,
    message: (what: string) => `${what} is not supported on this platform`,
  },
  ZC_ERR_IDLE_TIMEOUT: {
    base: Error,
    message: (ms: number) => `No bytes moved for ${ms} ms`,
  },
  ZC_ERR_CONNECT_TIMEOUT: {
    base: Error,
    message: (address: string, ms: number) => `Connecting to ${address} timed out after ${ms} ms`,
  },
  ZC_ERR_NO_UPSTREAM: {
    base: Error,
    message: (attempts: string) => `No upstream accepted the connection (${attempts})`,
  },
  ZC_ERR_HTTP_STATUS: {
    base: Error,
    // The status's fixed reason text only (Express's finalhandler may show
    // the message to the client); the system error stays in `cause`.
    message: (reason: string) => reason,
  },
  ZC_ERR_TARGET_EXISTS: {
    base: Error,
    message: (path: string) => `Refusing to overwrite ${path} (use --force)`,
  },
  ZC_ERR_SAME_FILE: {
    base: Error,
    message: (src: string, dst: string) => `'${src}' and '${dst}' are the same file`,
  },
  ZC_ERR_OVERLAPPING_RANGES: {
    base: RangeError,
    message: (srcStart: number, dstStart: number, length: number) =>
      `The source range [${srcStart}, ${srcStart + length}) and the destination range [${dstStart}, ${dstStart + length}) overlap in the same file`,
  },
  ZC_ERR_REGION_PAST_EOF: {
    base: RangeError,
    message: (offset: number, length: number, size: number) =>
      `The file region of ${length} bytes at offset ${offset} ends past the file's end (${size} bytes)`,
  },
  ZC_ERR_LOG_DIR_LOCKED: {
    base: Error,
    message: (dir: string, pid: number) => `The log directory ${dir} is in use by another broker (pid ${pid})`,
  },
  ABORT_ERR: {
    base: Error,
    name: 'AbortError',
    message: () => 'The operation was aborted',
  },
} satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof codes;

/** Fields a transfer error carries besides `code`. */
export interface TransferErrorFields {
  /** Body bytes that reached the destination before the failure. */
  bytesWritten?: number;
  /** Set when a job could not start (its dup() failed): bytes of `prefix` already sent. */
  headSent?: number;
  /** The path the transfer took: 'sendfile', 'splice', 'copy', ... */
  method?: string;
  cause?: unknown;
}

/** An error raised by this library: `code` is one of `codes`. */
export interface ZeroCopyError extends Error, TransferErrorFields {
  code: ErrorCode;
}

/** Builds the error for `code` with the table's base class and message. */
export function createError<C extends ErrorCode>(
  code: C,
  args: Parameters<(typeof codes)[C]['message']>,
  fields: TransferErrorFields = {},
): ZeroCopyError {
  const spec: CodeSpec = codes[code];
  const message = (spec.message as (...a: unknown[]) => string)(...(args as unknown[]));
  const error = new spec.base(message, fields.cause === undefined ? undefined : { cause: fields.cause }) as ZeroCopyError;
  Object.defineProperty(error, 'name', { value: spec.name ?? spec.base.name, enumerable: false, configurable: true });
  error.code = code;
  if (fields.bytesWritten !== undefined) error.bytesWritten = fields.bytesWritten;
  if (fields.method !== undefined) error.method = fields.method;
  Object.defineProperty(error, BRAND, { value: true });
  Error.captureStackTrace?.(error, createError);
  return error;
}

/**
 * An 'error' listener that swallows the event: for sockets whose failures
 * the caller learns another way (a transfer's rejection, a 'close'), so an
 * emitted error does not become an uncaught exception.
 */
export function ignoreError(): void {}

/** Brand check that works across copies of the package (Symbol.for). */
export function isZeroCopyError(value: unknown): value is ZeroCopyError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** The AbortError a transfer rejects with, carrying the signal's reason as `cause`. */
export function createAbortError(signal: AbortSignal | undefined, fields: TransferErrorFields = {}): ZeroCopyError {
  return createError('ABORT_ERR', [], { ...fields, cause: fields.cause ?? signal?.reason });
}
