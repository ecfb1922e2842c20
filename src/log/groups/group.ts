/**
 * One consumer group's membership, as Kafka's group coordinator keeps it
 * (GroupMetadata + GroupCoordinator): the broker never reads the members'
 * subscriptions or assignments, it relays them. The group's leader (a
 * client) runs the assignor.
 *
 *           join (new member, or a member whose metadata changed)
 *   Empty ───────────────▶ PreparingRebalance ──every member rejoined, or the
 *     ▲                        ▲     │          rebalance timeout removed the rest
 *     │ last member gone       │     ▼
 *     └──────────────── CompletingRebalance ──leader's SyncGroup──▶ Stable
 *                              ▲  (generation + 1;                    │
 *                              │   leader got every member's metadata)│
 *                              └── join / leave / session timeout ────┘
 *
 * Members that do not heartbeat (or join, or sync) within their session
 * timeout are removed, which starts a rebalance. JoinGroup v4+ without a
 * member id first gets MEMBER_ID_REQUIRED and an id to join with (KIP-394).
 */
import { ErrorCode } from '../protocol/error-codes.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/join-group.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  joinWaiter: ((response: JoinGroupResponse) => void) | undefined;
  syncWaiter: ((errorCode: number, assignment: Buffer) => void) | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
}

const EMPTY = Buffer.alloc(0);

function sameProtocols(a: Member['protocols'], b: Member['protocols']): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | undefined;
  protocolName = '';
  leaderId = '';
  readonly members = new Map<string, Member>();
  /** Ids handed out with MEMBER_ID_REQUIRED, waiting for the member to join with them. */
  readonly pending = new Map<string, NodeJS.Timeout>();
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private initialDelayTimer: NodeJS.Timeout | undefined;

  constructor(readonly id: string, private readonly initialRebalanceDelayMs: number) {}

  /** Whether `protocols` can share the group with its members (a common protocol name). */
  accepts(protocolType: string, protocols: { name: string }[]): boolean {
    if (this.members.size === 0) return protocols.length > 0;
    if (protocolType !== this.protocolType) return false;
    const names = new Set(protocols.map((p) => p.name));
    return [...this.candidateProtocols()].some((name) => names.has(name));
  }

  private candidateProtocols(): Set<string> {
    let candidates: Set<string> | undefined;
    for (const member of this.members.values()) {
      const names = new Set(member.protocols.map((p) => p.name));
      candidates = candidates === undefined ? names : new Set([...candidates].filter((n) => names.has(n)));
    }
    return candidates ?? new Set();
  }

  /** Kafka's vote: each member backs its most preferred common protocol; most votes wins. */
  private selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.protocols.find((p) => candidates.has(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [name, count] of votes) if (count > bestVotes) [best, bestVotes] = [name, count];
    return best;
  }

  /** Adds a member (or updates one) with the join request it sent, waiting for the join to complete. */
  addOrUpdate(memberId: string, request: JoinGroupRequest, waiter: (response: JoinGroupResponse) => void): void {
    let member = this.members.get(memberId);
    if (member === undefined) {
      member = {
        memberId,
        groupInstanceId: request.groupInstanceId,
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        protocolType: request.protocolType,
        protocols: request.protocols,
        assignment: EMPTY,
        joinWaiter: undefined,
        syncWaiter: undefined,
        sessionTimer: undefined,
      };
      this.members.set(memberId, member);
      if (this.members.size === 1) this.protocolType = request.protocolType;
    } else {
      member.protocols = request.protocols;
      member.sessionTimeoutMs = request.sessionTimeoutMs;
      member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    }
    // A member waiting to join is governed by the rebalance timeout, not its session.
    this.clearSession(member);
    member.joinWaiter?.(this.errorJoin(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    member.joinWaiter = waiter;
  }

  /**
   * Whether a join from an existing member changes anything: a new
   * subscription, or the leader rejoining (it may have new topics to
   * assign). Otherwise the current generation is simply resent.
   */
  needsRebalance(memberId: string, request: JoinGroupRequest): boolean {
    const member = this.members.get(memberId)!;
    return this.state === 'Empty' || this.state === 'PreparingRebalance' || memberId === this.leaderId || !sameProtocols(member.protocols, request.protocols);
  }

  /** The join response of the current generation, for a member that rejoined with nothing new. */
  currentJoin(memberId: string): JoinGroupResponse {
    return { errorCode: ErrorCode.NONE, generationId: this.generationId, protocolName: this.protocolName, leader: this.leaderId, memberId, members: [] };
  }

  errorJoin(memberId: string, errorCode: number): JoinGroupResponse {
    return { errorCode, generationId: -1, protocolName: '', leader: '', memberId, members: [] };
  }

  /** Starts (or continues) a rebalance: pending syncs are told to rejoin. */
  prepareRebalance(): void {
    if (this.state === 'CompletingRebalance') {
      for (const member of this.members.values()) this.answerSync(member, ErrorCode.REBALANCE_IN_PROGRESS, EMPTY);
    }
    const wasEmpty = this.state === 'Empty';
    this.state = 'PreparingRebalance';
    if (this.rebalanceTimer === undefined) {
      let timeout = 0;
      for (const member of this.members.values()) timeout = Math.max(timeout, member.rebalanceTimeoutMs);
      this.rebalanceTimer = setTimeout(() => this.completeJoin(), timeout);
      this.rebalanceTimer.unref();
    }
    // group.initial.rebalance.delay.ms: lets a fleet starting together join one generation.
    if (wasEmpty && this.initialRebalanceDelayMs > 0) {
      this.initialDelayTimer = setTimeout(() => {
        this.initialDelayTimer = undefined;
        this.maybeCompleteJoin();
      }, this.initialRebalanceDelayMs);
      this.initialDelayTimer.unref();
    }
  }

  /** Completes the join once every known member has rejoined. */
  maybeCompleteJoin(): void {
    if (this.state !== 'PreparingRebalance' || this.initialDelayTimer !== undefined) return;
    for (const member of this.members.values()) if (member.joinWaiter === undefined) return;
    this.completeJoin();
  }

  /**
   * Ends the join phase: members that did not rejoin in time are dropped,
   * a new generation starts, the leader receives every member's metadata
   * and everyone else an empty list.
   */
  private completeJoin(): void {
    if (this.state !== 'PreparingRebalance') return;
    clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = undefined;
    clearTimeout(this.initialDelayTimer);
    this.initialDelayTimer = undefined;
    for (const member of [...this.members.values()]) if (member.joinWaiter === undefined) this.drop(member);
    this.generationId++;
    if (this.members.size === 0) {
      this.state = 'Empty';
      this.protocolType = undefined;
      this.protocolName = '';
      this.leaderId = '';
      return;
    }
    this.state = 'CompletingRebalance';
    this.protocolName = this.selectProtocol();
    if (!this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    const all = [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === this.protocolName)!.metadata,
    }));
    for (const member of this.members.values()) {
      const waiter = member.joinWaiter!;
      member.joinWaiter = undefined;
      member.assignment = EMPTY;
      this.touch(member);
      waiter({
        errorCode: ErrorCode.NONE,
        generationId: this.generationId,
        protocolName: this.protocolName,
        leader: this.leaderId,
        memberId: member.memberId,
        members: member.memberId === this.leaderId ? all : [],
      });
    }
  }

  /** The leader's assignments arrived: every member gets its own, the group is stable. */
  applyAssignments(assignments: { memberId: string; assignment: Buffer }[]): void {
    const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    for (const member of this.members.values()) member.assignment = byMember.get(member.memberId) ?? EMPTY;
    this.state = 'Stable';
    for (const member of this.members.values()) this.answerSync(member, ErrorCode.NONE, member.assignment);
  }

  answerSync(member: Member, errorCode: number, assignment: Buffer): void {
    const waiter = member.syncWaiter;
    member.syncWaiter = undefined;
    waiter?.(errorCode, assignment);
  }

  /** Restarts the member's session timer (any join, sync or heartbeat). */
  touch(member: Member): void {
    this.clearSession(member);
    member.sessionTimer = setTimeout(() => this.remove(member.memberId), member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private clearSession(member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = undefined;
  }

  private drop(member: Member): void {
    this.clearSession(member);
    this.members.delete(member.memberId);
    member.joinWaiter?.(this.errorJoin(member.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    member.joinWaiter = undefined;
    this.answerSync(member, ErrorCode.UNKNOWN_MEMBER_ID, EMPTY);
  }

  /** A member left or timed out: the others rebalance. */
  remove(memberId: string): boolean {
    const member = this.members.get(memberId);
    if (member === undefined) return false;
    this.drop(member);
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance();
    this.maybeCompleteJoin();
    return true;
  }

  /** Stops every timer and answers every waiter (broker shutdown). */
  shutdown(): void {
    clearTimeout(this.rebalanceTimer);
    clearTimeout(this.initialDelayTimer);
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    for (const member of this.members.values()) {
      this.clearSession(member);
      member.joinWaiter?.(this.errorJoin(member.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      member.joinWaiter = undefined;
      this.answerSync(member, ErrorCode.COORDINATOR_NOT_AVAILABLE, EMPTY);
    }
  }
}
