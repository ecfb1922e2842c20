/**
 * The dispatch table: one handler per API key this broker implements
 * (ApiVersions is answered by the connection itself, since its unsupported
 * versions need special treatment).
 */
import type { Handler } from '../context.js';
import { ApiKey } from '../protocol/api-keys.js';
import { handleCreateTopics } from './create-topics.js';
import { handleFetch } from './fetch.js';
import { handleFindCoordinator, handleHeartbeat, handleJoinGroup, handleLeaveGroup, handleOffsetCommit, handleOffsetFetch, handleSyncGroup } from './groups.js';
import { handleListOffsets } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleProduce } from './produce.js';

export const handlers: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [ApiKey.Produce, handleProduce],
  [ApiKey.Fetch, handleFetch],
  [ApiKey.ListOffsets, handleListOffsets],
  [ApiKey.Metadata, handleMetadata],
  [ApiKey.OffsetCommit, handleOffsetCommit],
  [ApiKey.OffsetFetch, handleOffsetFetch],
  [ApiKey.FindCoordinator, handleFindCoordinator],
  [ApiKey.JoinGroup, handleJoinGroup],
  [ApiKey.Heartbeat, handleHeartbeat],
  [ApiKey.LeaveGroup, handleLeaveGroup],
  [ApiKey.SyncGroup, handleSyncGroup],
  [ApiKey.CreateTopics, handleCreateTopics],
]);
