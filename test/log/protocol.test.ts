import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SUPPORTED_VERSIONS, ApiKey, isSupported } from '../../src/log/protocol/api-keys.js';
import { encodeApiVersionsResponse, encodeApiVersionsUnsupported } from '../../src/log/protocol/api-versions.js';
import { crc32c } from '../../src/log/protocol/crc32c.js';
import { decodeFetchRequest, encodeFetchResponse } from '../../src/log/protocol/fetch.js';
import { FrameReader } from '../../src/log/frame-reader.js';
import { decodeJoinGroupRequest, encodeJoinGroupResponse } from '../../src/log/protocol/join-group.js';
import { decodeLeaveGroupRequest } from '../../src/log/protocol/leave-group.js';
import { decodeMetadataRequest, encodeMetadataResponse } from '../../src/log/protocol/metadata.js';
import { decodeOffsetCommitRequest } from '../../src/log/protocol/offset-commit.js';
import { encodeOffsetFetchResponse } from '../../src/log/protocol/offset-fetch.js';
import { MalformedRequestError, ProtocolReader } from '../../src/log/protocol/reader.js';
import { assignOffsets, checkRecordSet, isProblem } from '../../src/log/protocol/record-batch.js';
import { ProtocolWriter } from '../../src/log/protocol/writer.js';
import { buildBatch } from './helpers/record-batches.js';

const reader = (build: (w: ProtocolWriter) => void) => {
  const writer = new ProtocolWriter(4);
  build(writer);
  return new ProtocolReader(Buffer.from(writer.finish()));
};

describe('CRC-32C', () => {
  const cases: [string, Buffer, number][] = [
    ['the check value of "123456789"', Buffer.from('123456789'), 0xe3069283],
    ['an empty input', Buffer.alloc(0), 0],
    ['32 zero bytes (RFC 3720 B.4)', Buffer.alloc(32, 0), 0x8a9136aa],
    ['32 0xff bytes (RFC 3720 B.4)', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['32 ascending bytes (RFC 3720 B.4)', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ];
  for (const [what, input, expected] of cases) {
    it(`matches ${what}`, () => assert.equal(crc32c(input), expected));
  }

  it('gives the same result in one call or continued over pieces of any size', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
    const whole = crc32c(data);
    for (const cut of [1, 7, 8, 9, 500, 999]) assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole);
  });
});

describe('ProtocolReader', () => {
  it('reads every primitive back as the writer wrote it', () => {
    const r = reader((w) => w.int8(-3).int16(-300).int32(-70000).int64(-1).int64(2 ** 53 - 1).bool(true).string('é')
      .nullableString(null).bytes(Buffer.from([1, 2])).nullableBytes(null).int32Array([5, 6]));
    assert.deepEqual(
      [r.int8(), r.int16(), r.int32(), r.int64(), r.int64(), r.bool(), r.string(), r.nullableString(), [...r.bytes()], r.nullableBytes(), r.int32Array()],
      [-3, -300, -70000, -1, 2 ** 53 - 1, true, 'é', null, [1, 2], null, [5, 6]],
    );
    r.expectEnd('test');
  });

  describe('when a frame lies about its lengths', () => {
    const cases: [string, (w: ProtocolWriter) => void, (r: ProtocolReader) => unknown][] = [
      ['a BYTES length of 2^31-1 with 3 bytes behind it', (w) => w.int32(0x7fffffff).raw(Buffer.from([1, 2, 3])), (r) => r.bytes()],
      ['a negative BYTES length other than -1', (w) => w.int32(-2), (r) => r.nullableBytes()],
      ['a STRING longer than the frame', (w) => w.int16(100).raw(Buffer.from('abc')), (r) => r.string()],
      ['a null STRING where none is allowed', (w) => w.int16(-1), (r) => r.string()],
      ['an ARRAY of 2 billion elements in 8 bytes', (w) => w.int32(2_000_000_000).int32(1), (r) => r.array((x) => x.int32(), 4)],
      ['an INT64 cut short', (w) => w.int32(1), (r) => r.int64()],
    ];
    for (const [what, build, read] of cases) {
      it(`throws MalformedRequestError for ${what}, allocating nothing for it`, () => {
        const before = process.memoryUsage().arrayBuffers;
        assert.throws(() => read(reader(build)), MalformedRequestError);
        assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
      });
    }
  });
});

describe('FrameReader', () => {
  it('splits a byte stream cut anywhere into the same frames', () => {
    const frames = [Buffer.alloc(10, 1), Buffer.alloc(300, 2), Buffer.alloc(11, 3)];
    const stream = Buffer.concat(frames.map((f) => Buffer.concat([Buffer.from([0, 0, f.length >> 8, f.length & 0xff]), f])));
    for (const step of [1, 3, 4, 5, 17, stream.length]) {
      const fr = new FrameReader(1000);
      const out: Buffer[] = [];
      for (let at = 0; at < stream.length; at += step) {
        fr.push(stream.subarray(at, at + step));
        for (let f = fr.next(); f !== undefined; f = fr.next()) out.push(f as Buffer);
      }
      assert.deepEqual(out.map((b) => Buffer.from(b)), frames, `chunks of ${step}`);
    }
  });

  const sizes: [string, number][] = [['2 GiB', 0x7fffffff], ['negative', -5], ['smaller than a header', 3], ['one over the limit', 1001]];
  for (const [what, size] of sizes) {
    it(`refuses a size that is ${what} as soon as the size arrives`, () => {
      const fr = new FrameReader(1000);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(size, 0);
      fr.push(prefix);
      const got = fr.next();
      assert.ok(got !== undefined && !Buffer.isBuffer(got), 'a problem, not a frame');
    });
  }
});

describe('record batches', () => {
  const one = () => buildBatch([{ key: 'k', value: 'value' }]);

  it('accepts whole batches of magic 2 with a valid CRC, end to end', () => {
    const set = Buffer.concat([one(), buildBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }]), buildBatch([{ value: 'z' }], { compression: 'gzip' })]);
    const batches = checkRecordSet(set);
    assert.ok(!isProblem(batches));
    assert.deepEqual(batches.map((b) => b.lastOffsetDelta), [0, 2, 0]);
    assert.equal(batches.reduce((n, b) => n + b.size, 0), set.length);
  });

  const rejected: [string, () => Buffer, RegExp][] = [
    ['a corrupted CRC', () => buildBatch([{ value: 'x' }], { badCrc: true }), /CRC/],
    ['a flipped record byte', () => {
      const b = one();
      b[b.length - 2] ^= 0xff;
      return b;
    }, /CRC/],
    ['magic 1', () => buildBatch([{ value: 'x' }], { magic: 1 }), /magic 1/],
    ['a length running past the data', () => one().subarray(0, 70), /only|present/],
    ['a header cut short', () => one().subarray(0, 40), /header/],
    ['a length field below the header size', () => {
      const b = one();
      b.writeInt32BE(10, 8);
      return b;
    }, /shorter than a batch header/],
    ['an empty record set', () => Buffer.alloc(0), /no record batch/],
    ['trailing garbage after a good batch', () => Buffer.concat([one(), Buffer.from('garbage')]), /header/],
    ['a record count that disagrees with lastOffsetDelta', () => {
      const b = buildBatch([{ value: 'a' }, { value: 'b' }]);
      b.writeInt32BE(5, 57);
      return b;
    }, /CRC|record count/],
  ];
  for (const [what, build, reason] of rejected) {
    it(`rejects ${what}`, () => {
      const result = checkRecordSet(build());
      assert.ok(isProblem(result), 'a problem is reported');
      assert.match(result.reason, reason);
    });
  }

  it('sets base offsets in place without touching the bytes the CRC covers', () => {
    const set = Buffer.concat([buildBatch([{ value: 'a' }, { value: 'b' }]), one()]);
    const batches = checkRecordSet(set);
    assert.ok(!isProblem(batches));
    const covered = [set.subarray(21, batches[0]!.size), set.subarray(batches[0]!.size + 21)].map((b) => Buffer.from(b));
    const next = assignOffsets(set, batches, 40);
    assert.equal(next, 43);
    assert.equal(set.readBigInt64BE(0), 40n);
    assert.equal(set.readBigInt64BE(batches[0]!.size), 42n);
    assert.ok(!isProblem(checkRecordSet(set)), 'still valid: the CRC did not change');
    assert.deepEqual([set.subarray(21, batches[0]!.size), set.subarray(batches[0]!.size + 21)], covered);
  });
});

describe('ApiVersions', () => {
  it('advertises exactly the implemented table, with throttle time from v1', () => {
    for (const version of [0, 1, 2]) {
      const writer = new ProtocolWriter();
      encodeApiVersionsResponse(writer, version);
      const r = new ProtocolReader(Buffer.from(writer.finish()));
      assert.equal(r.int16(), 0);
      const entries = r.array((x) => [x.int16(), x.int16(), x.int16()]);
      assert.deepEqual(entries, [...SUPPORTED_VERSIONS].map(([k, v]) => [k, v.min, v.max]));
      if (version >= 1) assert.equal(r.int32(), 0);
      r.expectEnd('ApiVersions');
    }
  });

  it('answers an unsupported version with error 35 in the v0 shape, naming its own range', () => {
    const writer = new ProtocolWriter();
    encodeApiVersionsUnsupported(writer);
    const r = new ProtocolReader(Buffer.from(writer.finish()));
    assert.equal(r.int16(), 35);
    assert.deepEqual(r.array((x) => [x.int16(), x.int16(), x.int16()]), [[ApiKey.ApiVersions, 0, 2]]);
    r.expectEnd('ApiVersions');
  });

  it('stops every range before the API\'s first flexible version', () => {
    const firstFlexible = new Map([[0, 9], [1, 12], [2, 6], [3, 9], [8, 8], [9, 6], [10, 3], [11, 6], [12, 4], [13, 4], [14, 4], [18, 3], [19, 5]]);
    for (const [key, range] of SUPPORTED_VERSIONS) assert.ok(range.max < firstFlexible.get(key)!, `api ${key}`);
    assert.equal(isSupported(ApiKey.Fetch, 3), false);
    assert.equal(isSupported(ApiKey.Fetch, 4), true);
    assert.equal(isSupported(99, 0), false);
  });
});

describe('codecs by version', () => {
  it('Metadata: v0 empty array and v1+ null both mean every topic; v4+ reads auto-creation', () => {
    assert.equal(decodeMetadataRequest(reader((w) => w.int32(0)), 0).topics, null);
    assert.deepEqual(decodeMetadataRequest(reader((w) => w.int32(0)), 1).topics, []);
    assert.equal(decodeMetadataRequest(reader((w) => w.int32(-1)), 1).topics, null);
    assert.equal(decodeMetadataRequest(reader((w) => w.int32(-1).bool(false)), 4).allowAutoTopicCreation, false);
    const r8 = reader((w) => w.int32(1).string('t').bool(true).bool(true).bool(true));
    assert.deepEqual(decodeMetadataRequest(r8, 8), { topics: ['t'], allowAutoTopicCreation: true });
    r8.expectEnd('Metadata v8');
  });

  it('Metadata: response fields appear at the versions the schema gives them', () => {
    const response = { brokers: [{ nodeId: 1, host: 'h', port: 9 }], clusterId: 'c', controllerId: 1, topics: [{ errorCode: 0, name: 't', partitions: [{ errorCode: 0, index: 0, leaderId: 1 }] }] };
    const sizes = [0, 1, 2, 3, 5, 7, 8].map((v) => {
      const w = new ProtocolWriter();
      encodeMetadataResponse(w, v, response);
      return w.length;
    });
    // v1 +rack(2) +controller(4) +internal(1); v2 +cluster id(3); v3 +throttle(4); v5 +offline(4); v7 +epoch(4); v8 +2 × operations(8)
    assert.deepEqual(sizes.map((s) => s - sizes[0]!), [0, 7, 10, 14, 18, 22, 30]);
  });

  it('Fetch: v4 to v11 requests parse to the same partitions', () => {
    for (let v = 4; v <= 11; v++) {
      const r = reader((w) => {
        w.int32(-1).int32(500).int32(1).int32(1000).int8(1);
        if (v >= 7) w.int32(0).int32(-1);
        w.int32(1).string('t').int32(1).int32(3);
        if (v >= 9) w.int32(-1);
        w.int64(77);
        if (v >= 5) w.int64(-1);
        w.int32(4096);
        if (v >= 7) w.int32(0);
        if (v >= 11) w.string('rack');
      });
      const request = decodeFetchRequest(r, v);
      r.expectEnd(`Fetch v${v}`);
      assert.deepEqual(request.topics, [{ name: 't', partitions: [{ partition: 3, fetchOffset: 77, maxBytes: 4096 }] }], `v${v}`);
    }
  });

  it('Fetch: a response is buffers around the regions, sized exactly', () => {
    const regions = [{ fd: 3, offset: 0, length: 100 }, { fd: 4, offset: 0, length: 50 }];
    const { parts, bytes } = encodeFetchResponse(11, { errorCode: 0, sessionId: 0, topics: [{ name: 't', partitions: [{ partition: 0, errorCode: 0, highWatermark: 9, logStartOffset: 0, records: regions }, { partition: 1, errorCode: 0, highWatermark: 0, logStartOffset: 0, records: [] }] }] });
    assert.equal(parts[1], regions[0]);
    assert.equal(parts[2], regions[1]);
    const total = parts.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : (p as { length: number }).length), 0);
    assert.equal(bytes, total);
    const head = parts[0] as Buffer;
    assert.equal(head.readInt32BE(head.length - 4), 150, 'the RECORDS size is the regions\' total');
  });

  it('JoinGroup: v0 uses the session timeout as the rebalance timeout; v5 reads the instance id', () => {
    const v0 = decodeJoinGroupRequest(reader((w) => w.string('g').int32(10000).string('').string('consumer').int32(1).string('range').bytes(Buffer.from([1]))), 0);
    assert.equal(v0.rebalanceTimeoutMs, 10000);
    const v5 = decodeJoinGroupRequest(reader((w) => w.string('g').int32(10000).int32(60000).string('m').nullableString('i').string('consumer').int32(0)), 5);
    assert.deepEqual([v5.rebalanceTimeoutMs, v5.groupInstanceId], [60000, 'i']);
    const w = new ProtocolWriter();
    encodeJoinGroupResponse(w, 5, { errorCode: 0, generationId: 1, protocolName: 'range', leader: 'm', memberId: 'm', members: [{ memberId: 'm', groupInstanceId: null, metadata: Buffer.from([9]) }] });
    const r = new ProtocolReader(Buffer.from(w.finish()));
    assert.deepEqual([r.int32(), r.int16(), r.int32(), r.string(), r.string(), r.string()], [0, 0, 1, 'range', 'm', 'm']);
    assert.deepEqual(r.array((x) => [x.string(), x.nullableString(), [...x.bytes()]]), [['m', null, [9]]]);
  });

  it('LeaveGroup: v0-2 carry one member id, v3 a list', () => {
    assert.deepEqual(decodeLeaveGroupRequest(reader((w) => w.string('g').string('m')), 2).members, [{ memberId: 'm', groupInstanceId: null }]);
    assert.deepEqual(decodeLeaveGroupRequest(reader((w) => w.string('g').int32(2).string('a').nullableString(null).string('b').nullableString('i')), 3).members.map((m) => m.memberId), ['a', 'b']);
  });

  it('OffsetCommit: the fields of v0, v1, v2-4 and v6-7 are all read', () => {
    const shapes: [number, (w: ProtocolWriter) => void][] = [
      [0, (w) => w.string('g').int32(1).string('t').int32(1).int32(0).int64(5).nullableString('m')],
      [1, (w) => w.string('g').int32(3).string('mem').int32(1).string('t').int32(1).int32(0).int64(5).int64(123).nullableString('m')],
      [3, (w) => w.string('g').int32(3).string('mem').int64(-1).int32(1).string('t').int32(1).int32(0).int64(5).nullableString('m')],
      [7, (w) => w.string('g').int32(3).string('mem').nullableString(null).int32(1).string('t').int32(1).int32(0).int64(5).int32(-1).nullableString('m')],
    ];
    for (const [version, build] of shapes) {
      const r = reader(build);
      const request = decodeOffsetCommitRequest(r, version);
      r.expectEnd(`OffsetCommit v${version}`);
      assert.deepEqual(request.topics, [{ name: 't', partitions: [{ index: 0, offset: 5, metadata: 'm' }] }], `v${version}`);
    }
  });

  it('OffsetFetch: the top-level error code from v2, the leader epoch from v5', () => {
    const lengths = [1, 2, 3, 5].map((v) => {
      const w = new ProtocolWriter();
      encodeOffsetFetchResponse(w, v, 0, [{ name: 't', partitions: [{ index: 0, offset: 1, metadata: '', errorCode: 0 }] }]);
      return w.length;
    });
    assert.deepEqual(lengths.map((n) => n - lengths[0]!), [0, 2, 6, 10]);
  });
});
