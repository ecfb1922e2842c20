/**
 * The single-node group coordinator: every group lives here, and this
 * broker answers FindCoordinator for all of them. Membership is in memory
 * (after a restart, members get UNKNOWN_MEMBER_ID and rejoin, as after a
 * coordinator move in Kafka); committed offsets are durable (offset-store.ts).
 */
import { randomUUID } from 'node:crypto';

import { ErrorCode } from '../protocol/error-codes.js';
import type { HeartbeatRequest } from '../protocol/heartbeat.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/join-group.js';
import type { LeaveGroupRequest, LeavingMember } from '../protocol/leave-group.js';
import type { OffsetCommitRequest } from '../protocol/offset-commit.js';
import type { OffsetFetchPartition, OffsetFetchRequest } from '../protocol/offset-fetch.js';
import type { SyncGroupRequest } from '../protocol/sync-group.js';
import { Group, type GroupState } from './group.js';
import type { OffsetCommitEntry, OffsetStore } from './offset-store.js';

/** Kafka's first JoinGroup version that hands out member ids before joining (KIP-394). */
const MEMBER_ID_REQUIRED_SINCE_VERSION = 4;

export interface GroupCoordinatorOptions {
  /** group.min.session.timeout.ms (Kafka: 6000). */
  minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms (Kafka: 1800000). */
  maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms (Kafka: 3000; 0 here by default). */
  initialRebalanceDelayMs: number;
}

export interface GroupDescription {
  state: GroupState;
  generationId: number;
  protocolName: string;
  leaderId: string;
  members: string[];
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly options: GroupCoordinatorOptions,
    private readonly offsets: OffsetStore,
    private readonly partitionExists: (topic: string, partition: number) => boolean,
  ) {}

  private group(id: string): Group {
    let group = this.groups.get(id);
    if (group === undefined) {
      group = new Group(id, this.options.initialRebalanceDelayMs);
      this.groups.set(id, group);
    }
    return group;
  }

  /** State of a group, for tests and tools; undefined if it never had members. */
  describe(id: string): GroupDescription | undefined {
    const group = this.groups.get(id);
    if (group === undefined) return undefined;
    return { state: group.state, generationId: group.generationId, protocolName: group.protocolName, leaderId: group.leaderId, members: [...group.members.keys()] };
  }

  /** JoinGroup: resolves when the join phase completes (possibly after other members rejoin). */
  join(request: JoinGroupRequest, version: number, clientId: string | null): Promise<JoinGroupResponse> {
    const fail = (errorCode: number) => Promise.resolve({ errorCode, generationId: -1, protocolName: '', leader: '', memberId: request.memberId, members: [] });
    if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    if (request.sessionTimeoutMs < this.options.minSessionTimeoutMs || request.sessionTimeoutMs > this.options.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const group = this.group(request.groupId);
    if (!group.accepts(request.protocolType, request.protocols)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    let memberId = request.memberId;
    if (memberId === '') {
      memberId = `${clientId ?? 'client'}-${randomUUID()}`;
      if (version >= MEMBER_ID_REQUIRED_SINCE_VERSION) {
        const timer = setTimeout(() => group.pending.delete(memberId), request.sessionTimeoutMs);
        timer.unref();
        group.pending.set(memberId, timer);
        return Promise.resolve(group.errorJoin(memberId, ErrorCode.MEMBER_ID_REQUIRED));
      }
    } else if (group.pending.has(memberId)) {
      clearTimeout(group.pending.get(memberId));
      group.pending.delete(memberId);
    } else if (!group.members.has(memberId)) {
      return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    } else if (!group.needsRebalance(memberId, request)) {
      group.touch(group.members.get(memberId)!);
      return Promise.resolve(group.currentJoin(memberId));
    }
    return new Promise((resolve) => {
      group.addOrUpdate(memberId, request, resolve);
      group.prepareRebalance();
      group.maybeCompleteJoin();
    });
  }

  /** SyncGroup: the leader's call carries every assignment; the others wait for it. */
  sync(request: SyncGroupRequest): Promise<{ errorCode: number; assignment: Buffer }> {
    const empty = Buffer.alloc(0);
    const group = this.groups.get(request.groupId);
    const member = group?.members.get(request.memberId);
    if (group === undefined || member === undefined) return Promise.resolve({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: empty });
    if (request.generationId !== group.generationId) return Promise.resolve({ errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: empty });
    if (group.state === 'PreparingRebalance') return Promise.resolve({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: empty });
    group.touch(member);
    if (group.state === 'Stable') return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: member.assignment });
    return new Promise((resolve) => {
      group.answerSync(member, ErrorCode.REBALANCE_IN_PROGRESS, empty);
      member.syncWaiter = (errorCode, assignment) => resolve({ errorCode, assignment });
      if (request.memberId === group.leaderId) group.applyAssignments(request.assignments);
    });
  }

  heartbeat(request: HeartbeatRequest): number {
    const group = this.groups.get(request.groupId);
    const member = group?.members.get(request.memberId);
    if (group === undefined || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    group.touch(member);
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(request: LeaveGroupRequest): { errorCode: number; members: (LeavingMember & { errorCode: number })[] } {
    const group = this.groups.get(request.groupId);
    const members = request.members.map((m) => ({
      ...m,
      errorCode: group?.remove(m.memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID,
    }));
    // v0-2 carry one member, whose result is the top-level error.
    const errorCode = members.length === 1 ? members[0]!.errorCode : ErrorCode.NONE;
    return { errorCode, members };
  }

  /**
   * OffsetCommit: from a member of the current generation, or from outside
   * any (generation -1, empty member id) while the group has no members.
   */
  async commitOffsets(request: OffsetCommitRequest): Promise<{ name: string; partitions: { index: number; errorCode: number }[] }[]> {
    const group = this.groups.get(request.groupId);
    let refusal: number = ErrorCode.NONE;
    if (request.groupId === '') refusal = ErrorCode.INVALID_GROUP_ID;
    else if (request.generationId < 0 && request.memberId === '') {
      if (group !== undefined && group.members.size > 0) refusal = ErrorCode.ILLEGAL_GENERATION;
    } else if (group === undefined || !group.members.has(request.memberId)) refusal = ErrorCode.UNKNOWN_MEMBER_ID;
    else if (request.generationId !== group.generationId) refusal = ErrorCode.ILLEGAL_GENERATION;
    else if (group.state === 'CompletingRebalance') refusal = ErrorCode.REBALANCE_IN_PROGRESS;
    if (refusal === ErrorCode.NONE && group !== undefined && request.memberId !== '') {
      const member = group.members.get(request.memberId);
      if (member) group.touch(member);
    }
    const entries: OffsetCommitEntry[] = [];
    const results = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        let errorCode = refusal;
        if (errorCode === ErrorCode.NONE && !this.partitionExists(topic.name, p.index)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (errorCode === ErrorCode.NONE) entries.push({ topic: topic.name, partition: p.index, offset: p.offset, metadata: p.metadata });
        return { index: p.index, errorCode };
      }),
    }));
    await this.offsets.commit(request.groupId, entries);
    return results;
  }

  fetchOffsets(request: OffsetFetchRequest): { name: string; partitions: OffsetFetchPartition[] }[] {
    if (request.topics === null) {
      const byTopic = new Map<string, OffsetFetchPartition[]>();
      for (const entry of this.offsets.listGroup(request.groupId)) {
        const list = byTopic.get(entry.topic) ?? [];
        list.push({ index: entry.partition, offset: entry.offset, metadata: entry.metadata, errorCode: ErrorCode.NONE });
        byTopic.set(entry.topic, list);
      }
      return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    }
    return request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((index) => {
        const committed = this.offsets.get(request.groupId, topic.name, index);
        return { index, offset: committed?.offset ?? -1, metadata: committed?.metadata ?? '', errorCode: ErrorCode.NONE };
      }),
    }));
  }

  shutdown(): void {
    for (const group of this.groups.values()) group.shutdown();
    this.groups.clear();
  }
}
