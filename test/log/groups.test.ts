/**
 * The group coordinator's state machine, driven directly with short
 * timeouts: joins, the leader's assignment, rebalances on join, leave,
 * session timeout and rebalance timeout, and the errors members get.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { GroupCoordinator } from '../../src/log/groups/coordinator.js';
import { OffsetStore } from '../../src/log/groups/offset-store.js';
import { ErrorCode } from '../../src/log/protocol/error-codes.js';
import type { JoinGroupRequest } from '../../src/log/protocol/join-group.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { withTimeout } from '../helpers/process.js';

const tmp = makeTempDir('zerocopy-log-groups-');
after(() => tmp.remove());

function coordinator(): GroupCoordinator {
  return new GroupCoordinator({ minSessionTimeoutMs: 50, maxSessionTimeoutMs: 60000, initialRebalanceDelayMs: 0 }, OffsetStore.open(tmp.dir, 'never'), (topic) => topic === 't');
}

function joinRequest(memberId: string, overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: 'g',
    sessionTimeoutMs: 300,
    rebalanceTimeoutMs: 400,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(`meta-of-${memberId || 'new'}`) }, { name: 'roundrobin', metadata: Buffer.from('rr') }],
    ...overrides,
  };
}

/** JoinGroup v5 as clients do it: first without an id (MEMBER_ID_REQUIRED), then with the one given. */
async function joinNew(c: GroupCoordinator, clientId: string, overrides: Partial<JoinGroupRequest> = {}) {
  const first = await c.join(joinRequest('', overrides), 5, clientId);
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.match(first.memberId, new RegExp(`^${clientId}-`));
  return { memberId: first.memberId, joined: c.join(joinRequest(first.memberId, overrides), 5, clientId) };
}

describe('GroupCoordinator', () => {
  it('forms a generation: the leader gets every member\'s metadata, everyone gets the leader\'s assignment', async () => {
    const c = coordinator();
    const a = await joinNew(c, 'a');
    const aJoin = await a.joined;
    assert.deepEqual([aJoin.errorCode, aJoin.generationId, aJoin.leader, aJoin.protocolName], [0, 1, a.memberId, 'range']);
    assert.deepEqual(aJoin.members.map((m) => m.metadata.toString()), [`meta-of-${a.memberId}`]);
    const synced = await c.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null, assignments: [{ memberId: a.memberId, assignment: Buffer.from('all of it') }] });
    assert.deepEqual([synced.errorCode, synced.assignment.toString()], [0, 'all of it']);
    assert.equal(c.describe('g')!.state, 'Stable');
    c.shutdown();
  });

  it('rebalances when a second member joins: the first learns it by heartbeat, rejoins, and both get assignments', async () => {
    const c = coordinator();
    const a = await joinNew(c, 'a');
    await a.joined;
    await c.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null, assignments: [{ memberId: a.memberId, assignment: Buffer.from('p0,p1') }] });
    const b = await joinNew(c, 'b');
    assert.equal(c.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }), ErrorCode.REBALANCE_IN_PROGRESS);
    const aRejoin = c.join(joinRequest(a.memberId), 5, 'a');
    const [aJoin, bJoin] = await Promise.all([aRejoin, b.joined]);
    assert.equal(aJoin.generationId, 2);
    assert.equal(bJoin.generationId, 2);
    assert.equal(aJoin.leader, a.memberId, 'the leader stays the leader');
    assert.equal(aJoin.members.length, 2);
    assert.equal(bJoin.members.length, 0, 'only the leader sees the members');
    const bSync = c.sync({ groupId: 'g', generationId: 2, memberId: b.memberId, groupInstanceId: null, assignments: [] });
    const aSync = c.sync({ groupId: 'g', generationId: 2, memberId: a.memberId, groupInstanceId: null, assignments: [{ memberId: a.memberId, assignment: Buffer.from('p0') }, { memberId: b.memberId, assignment: Buffer.from('p1') }] });
    assert.deepEqual([(await aSync).assignment.toString(), (await bSync).assignment.toString()], ['p0', 'p1']);
    assert.equal(c.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(c.heartbeat({ groupId: 'g', generationId: 2, memberId: a.memberId }), ErrorCode.NONE);
    c.shutdown();
  });

  /** a, then b: two members in one stable generation (a is the leader). */
  async function twoMembers(c: GroupCoordinator, sessionTimeoutMs: number) {
    const a = await joinNew(c, 'a', { sessionTimeoutMs });
    await a.joined;
    const b = await joinNew(c, 'b', { sessionTimeoutMs });
    const [aJoin, bJoin] = await Promise.all([c.join(joinRequest(a.memberId, { sessionTimeoutMs }), 5, 'a'), b.joined]);
    assert.equal(aJoin.generationId, bJoin.generationId);
    const generationId = aJoin.generationId;
    await Promise.all([
      c.sync({ groupId: 'g', generationId, memberId: a.memberId, groupInstanceId: null, assignments: [{ memberId: a.memberId, assignment: Buffer.from('x') }, { memberId: b.memberId, assignment: Buffer.from('y') }] }),
      c.sync({ groupId: 'g', generationId, memberId: b.memberId, groupInstanceId: null, assignments: [] }),
    ]);
    assert.equal(c.describe('g')!.state, 'Stable');
    return { a: a.memberId, b: b.memberId, generationId };
  }

  it('removes a member that stops heartbeating after its session timeout, and the rest rebalance', async () => {
    const c = coordinator();
    const { a, b, generationId } = await twoMembers(c, 300);
    // Only a keeps heartbeating.
    await withTimeout((async () => {
      while (c.heartbeat({ groupId: 'g', generationId, memberId: a }) !== ErrorCode.REBALANCE_IN_PROGRESS) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(), 3000, 'the session timeout of b');
    assert.deepEqual(c.describe('g')!.members, [a]);
    const rejoined = await c.join(joinRequest(a, { sessionTimeoutMs: 300 }), 5, 'a');
    assert.deepEqual([rejoined.generationId, rejoined.leader, rejoined.members.length], [generationId + 1, a, 1]);
    assert.equal(c.heartbeat({ groupId: 'g', generationId: rejoined.generationId, memberId: b }), ErrorCode.UNKNOWN_MEMBER_ID);
    c.shutdown();
  });

  it('completes a rebalance without a member that does not rejoin within the rebalance timeout', async () => {
    const c = coordinator();
    const { a } = await twoMembers(c, 5000);
    const started = Date.now();
    // a changes its subscription (a rebalance); b never rejoins. The
    // coordinator's timers do not hold the event loop; withTimeout's does.
    const aRejoin = await withTimeout(c.join(joinRequest(a, { sessionTimeoutMs: 5000, protocols: [{ name: 'range', metadata: Buffer.from('new topics') }] }), 5, 'a'), 5000, 'the rebalance timeout');
    assert.ok(Date.now() - started >= 350, 'it waited for the rebalance timeout');
    assert.deepEqual(aRejoin.members.map((m) => m.memberId), [a]);
    assert.deepEqual(c.describe('g')!.members, [a]);
    c.shutdown();
  });

  it('rebalances at once when a member leaves', async () => {
    const c = coordinator();
    const { a, b, generationId } = await twoMembers(c, 5000);
    assert.deepEqual(c.leave({ groupId: 'g', members: [{ memberId: b, groupInstanceId: null }] }).members.map((m) => m.errorCode), [0]);
    assert.equal(c.heartbeat({ groupId: 'g', generationId, memberId: a }), ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoined = await c.join(joinRequest(a, { sessionTimeoutMs: 5000 }), 5, 'a');
    assert.equal(rejoined.generationId, generationId + 1);
    assert.equal(c.leave({ groupId: 'g', members: [{ memberId: b, groupInstanceId: null }] }).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    c.shutdown();
  });

  it('answers the errors a member must handle', async () => {
    const c = coordinator();
    const a = await joinNew(c, 'a');
    await a.joined;
    assert.equal((await c.join(joinRequest('ghost'), 5, 'x')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await c.join(joinRequest('', { groupId: '' }), 5, 'x')).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal((await c.join(joinRequest('', { sessionTimeoutMs: 10 }), 5, 'x')).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    assert.equal((await c.join(joinRequest('', { protocolType: 'connect' }), 5, 'x')).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await c.join(joinRequest('', { protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] }), 5, 'x')).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await c.sync({ groupId: 'g', generationId: 9, memberId: a.memberId, groupInstanceId: null, assignments: [] })).errorCode, ErrorCode.ILLEGAL_GENERATION);
    assert.equal(c.heartbeat({ groupId: 'nope', generationId: 1, memberId: a.memberId }), ErrorCode.UNKNOWN_MEMBER_ID);
    // JoinGroup v3 (before KIP-394) joins at once, without MEMBER_ID_REQUIRED.
    const v3 = c.join(joinRequest('', { groupId: 'old' }), 3, 'old-client');
    assert.equal((await v3).errorCode, ErrorCode.NONE);
    c.shutdown();
  });

  it('takes offset commits only from the current generation, or from outside any while the group is empty', async () => {
    const c = coordinator();
    const commit = (generationId: number, memberId: string, topic = 't') =>
      c.commitOffsets({ groupId: 'g', generationId, memberId, topics: [{ name: topic, partitions: [{ index: 0, offset: 42, metadata: 'm' }] }] });
    assert.equal((await commit(-1, ''))[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const a = await joinNew(c, 'a');
    const aJoin = await a.joined;
    assert.equal((await commit(-1, ''))[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
    assert.equal((await commit(aJoin.generationId, a.memberId))[0]!.partitions[0]!.errorCode, ErrorCode.REBALANCE_IN_PROGRESS, 'awaiting sync');
    await c.sync({ groupId: 'g', generationId: aJoin.generationId, memberId: a.memberId, groupInstanceId: null, assignments: [] });
    assert.equal((await commit(aJoin.generationId, a.memberId))[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await commit(aJoin.generationId + 1, a.memberId))[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
    assert.equal((await commit(aJoin.generationId, 'ghost'))[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await commit(aJoin.generationId, a.memberId, 'unknown'))[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual(c.fetchOffsets({ groupId: 'g', topics: [{ name: 't', partitions: [0, 1] }] }), [{ name: 't', partitions: [
      { index: 0, offset: 42, metadata: 'm', errorCode: 0 },
      { index: 1, offset: -1, metadata: '', errorCode: 0 },
    ] }]);
    assert.deepEqual(c.fetchOffsets({ groupId: 'g', topics: null }).map((t) => t.name), ['t']);
    c.shutdown();
  });
});
