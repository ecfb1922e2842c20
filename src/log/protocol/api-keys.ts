/**
 * The APIs this broker speaks and, for each, exactly the versions it
 * implements: ApiVersions advertises this table and nothing else, and a
 * request for any other (key, version) closes its connection.
 *
 * Every range stops before the API's first flexible version (KIP-482), so
 * no compact encodings or tagged fields are needed; kafkajs 2.2 and
 * librdkafka 2.0 (kcat 1.7.1) pick versions inside these ranges (their
 * choices are listed in docs/log.md). The lower bounds are where record
 * batches of magic 2 begin (Fetch 4), or where the request shape stops
 * being the ZooKeeper-era one (ListOffsets 1, OffsetFetch 1). Produce starts
 * at 0 for librdkafka's sake (produce.ts says why).
 */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  ApiVersions: 18,
  CreateTopics: 19,
} as const;

export type ApiKeyValue = (typeof ApiKey)[keyof typeof ApiKey];

export interface VersionRange {
  min: number;
  max: number;
}

/** Implemented versions per API key: the first version that is flexible is max + 1. */
export const SUPPORTED_VERSIONS: ReadonlyMap<number, VersionRange> = new Map([
  // From v0 although only magic 2 batches are stored: see produce.ts.
  [ApiKey.Produce, { min: 0, max: 8 }],
  [ApiKey.Fetch, { min: 4, max: 11 }],
  [ApiKey.ListOffsets, { min: 1, max: 5 }],
  [ApiKey.Metadata, { min: 0, max: 8 }],
  [ApiKey.OffsetCommit, { min: 0, max: 7 }],
  [ApiKey.OffsetFetch, { min: 1, max: 5 }],
  [ApiKey.FindCoordinator, { min: 0, max: 2 }],
  [ApiKey.JoinGroup, { min: 0, max: 5 }],
  [ApiKey.Heartbeat, { min: 0, max: 3 }],
  [ApiKey.LeaveGroup, { min: 0, max: 3 }],
  [ApiKey.SyncGroup, { min: 0, max: 3 }],
  [ApiKey.ApiVersions, { min: 0, max: 2 }],
  [ApiKey.CreateTopics, { min: 0, max: 4 }],
]);

/** The API's name for logs and errors ('Produce'), or `api-N` for a key we do not know. */
export function apiName(key: number): string {
  for (const [name, value] of Object.entries(ApiKey)) if (value === key) return name;
  return `api-${key}`;
}

export function isSupported(key: number, version: number): boolean {
  const range = SUPPORTED_VERSIONS.get(key);
  return range !== undefined && version >= range.min && version <= range.max;
}
