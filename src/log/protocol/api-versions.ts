/**
 * ApiVersions (key 18), versions 0-2: which APIs and versions this broker
 * speaks (ApiVersionsRequest.json / ApiVersionsResponse.json).
 *
 *   request v0-2:  (empty body)
 *   response v0:   INT16 error_code | ARRAY [INT16 api_key, INT16 min_version, INT16 max_version]
 *   response v1-2: ... the same, then INT32 throttle_time_ms
 *
 * A version this broker does not speak (v3+, which clients try first) gets
 * UNSUPPORTED_VERSION in the v0 shape, listing only ApiVersions' own range
 * (KIP-511), so the client retries with a version inside it, as with Kafka.
 */
import { ErrorCode } from './error-codes.js';
import { ApiKey, SUPPORTED_VERSIONS } from './api-keys.js';
import { ProtocolWriter } from './writer.js';

export function encodeApiVersionsResponse(writer: ProtocolWriter, version: number): void {
  writer.int16(ErrorCode.NONE);
  writer.array([...SUPPORTED_VERSIONS], (w, [key, range]) => w.int16(key).int16(range.min).int16(range.max));
  if (version >= 1) writer.int32(0);
}

/** The UNSUPPORTED_VERSION answer, always in the v0 shape whatever version was asked for. */
export function encodeApiVersionsUnsupported(writer: ProtocolWriter): void {
  const own = SUPPORTED_VERSIONS.get(ApiKey.ApiVersions)!;
  writer.int16(ErrorCode.UNSUPPORTED_VERSION);
  writer.array([own], (w, range) => w.int16(ApiKey.ApiVersions).int16(range.min).int16(range.max));
}
