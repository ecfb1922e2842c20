/**
 * The consumer-group APIs, answered by the single-node coordinator.
 */
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { decodeFindCoordinatorRequest, encodeFindCoordinatorResponse, KEY_TYPE_GROUP } from '../protocol/find-coordinator.js';
import { decodeHeartbeatRequest, encodeHeartbeatResponse } from '../protocol/heartbeat.js';
import { decodeJoinGroupRequest, encodeJoinGroupResponse } from '../protocol/join-group.js';
import { decodeLeaveGroupRequest, encodeLeaveGroupResponse } from '../protocol/leave-group.js';
import { decodeOffsetCommitRequest, encodeOffsetCommitResponse } from '../protocol/offset-commit.js';
import { decodeOffsetFetchRequest, encodeOffsetFetchResponse } from '../protocol/offset-fetch.js';
import { decodeSyncGroupRequest, encodeSyncGroupResponse } from '../protocol/sync-group.js';

export const handleFindCoordinator: Handler = (state, { header, reader, socket }, writer) => {
  const request = decodeFindCoordinatorRequest(reader, header.apiVersion);
  const { host, port } = state.advertisedAddress(socket);
  const isGroup = request.keyType === KEY_TYPE_GROUP;
  encodeFindCoordinatorResponse(writer, header.apiVersion, {
    errorCode: isGroup ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE,
    errorMessage: isGroup ? null : 'transactions are not supported by this broker',
    nodeId: isGroup ? state.settings.nodeId : -1,
    host: isGroup ? host : '',
    port: isGroup ? port : -1,
  });
  return 'respond' as const;
};

export const handleJoinGroup: Handler = async (state, { header, reader }, writer) => {
  const request = decodeJoinGroupRequest(reader, header.apiVersion);
  const response = await state.groups.join(request, header.apiVersion, header.clientId);
  encodeJoinGroupResponse(writer, header.apiVersion, response);
  return 'respond' as const;
};

export const handleSyncGroup: Handler = async (state, { header, reader }, writer) => {
  const request = decodeSyncGroupRequest(reader, header.apiVersion);
  const { errorCode, assignment } = await state.groups.sync(request);
  encodeSyncGroupResponse(writer, header.apiVersion, errorCode, assignment);
  return 'respond' as const;
};

export const handleHeartbeat: Handler = (state, { header, reader }, writer) => {
  const request = decodeHeartbeatRequest(reader, header.apiVersion);
  encodeHeartbeatResponse(writer, header.apiVersion, state.groups.heartbeat(request));
  return 'respond' as const;
};

export const handleLeaveGroup: Handler = (state, { header, reader }, writer) => {
  const request = decodeLeaveGroupRequest(reader, header.apiVersion);
  const { errorCode, members } = state.groups.leave(request);
  encodeLeaveGroupResponse(writer, header.apiVersion, errorCode, members);
  return 'respond' as const;
};

export const handleOffsetCommit: Handler = async (state, { header, reader }, writer) => {
  const request = decodeOffsetCommitRequest(reader, header.apiVersion);
  encodeOffsetCommitResponse(writer, header.apiVersion, await state.groups.commitOffsets(request));
  return 'respond' as const;
};

export const handleOffsetFetch: Handler = (state, { header, reader }, writer) => {
  const request = decodeOffsetFetchRequest(reader);
  encodeOffsetFetchResponse(writer, header.apiVersion, ErrorCode.NONE, state.groups.fetchOffsets(request));
  return 'respond' as const;
};
