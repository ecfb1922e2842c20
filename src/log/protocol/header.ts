/**
 * Request and response headers (RequestHeader.json, ResponseHeader.json).
 *
 *   request frame:  INT32 size | INT16 api_key | INT16 api_version | INT32 correlation_id
 *                   | NULLABLE_STRING client_id | body ...
 *   response frame: INT32 size | INT32 correlation_id | body ...
 *
 * Header v1 (above) serves every non-flexible request. Flexible requests
 * (header v2) append tagged fields after client_id; the broker never parses
 * such a body. The one it must answer is ApiVersions v3+, which a client
 * sends first to an unknown broker: the fields above keep their place in
 * every header version precisely so that an older broker can read them and
 * answer UNSUPPORTED_VERSION in the v0 response shape.
 */
import { ProtocolReader } from './reader.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Reads the header of one frame (the bytes after the size). */
export function readRequestHeader(reader: ProtocolReader): RequestHeader {
  const apiKey = reader.int16();
  const apiVersion = reader.int16();
  const correlationId = reader.int32();
  const clientId = reader.nullableString();
  return { apiKey, apiVersion, correlationId, clientId };
}

/** Bytes of a response frame's size and header, before the body. */
export const RESPONSE_HEADER_BYTES = 8;

/** The size prefix and response header v0 for a body of `bodyBytes`. */
export function encodeResponseHead(correlationId: number, bodyBytes: number): Buffer {
  const head = Buffer.allocUnsafe(RESPONSE_HEADER_BYTES);
  head.writeInt32BE(4 + bodyBytes, 0);
  head.writeInt32BE(correlationId, 4);
  return head;
}
