import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatHostPort, parseHostPort, parseUpstreams, RoundRobin } from '../../src/proxy/upstreams.js';

describe('upstream addresses', () => {
  describe('parseHostPort', () => {
    const valid: Array<[string, { host: string; port: number }]> = [
      ['127.0.0.1:9000', { host: '127.0.0.1', port: 9000 }],
      ['localhost:80', { host: 'localhost', port: 80 }],
      ['[::1]:443', { host: '::1', port: 443 }],
      ['[2001:db8::1]:65535', { host: '2001:db8::1', port: 65535 }],
      [' 127.0.0.1:1 ', { host: '127.0.0.1', port: 1 }],
    ];
    for (const [input, expected] of valid) {
      it(`reads ${JSON.stringify(input)}`, () => assert.deepEqual(parseHostPort(input), expected));
    }

    const invalid = [
      '127.0.0.1', // no port
      '127.0.0.1:', // empty port
      ':8080', // no host (only a listener may omit it)
      '::1:80', // unbracketed IPv6: which colon is the port's?
      '[::1]', // bracketed, no port
      '[::1]80',
      '[not-an-ip]:80',
      '127.0.0.1:0', // no upstream listens on port 0
      '127.0.0.1:65536',
      '127.0.0.1:-1',
      '127.0.0.1:0x50', // Number() would read this as 80
      '127.0.0.1:8 0',
    ];
    for (const input of invalid) {
      it(`rejects ${JSON.stringify(input)} with ZC_ERR_INVALID_ARG`, () => {
        assert.throws(() => parseHostPort(input, '--to'), (error: NodeJS.ErrnoException) => {
          assert.equal(error.code, 'ZC_ERR_INVALID_ARG');
          assert.match(error.message, /"--to"/);
          return true;
        });
      });
    }

    it('lets a listener omit the host (every interface) and ask for port 0', () => {
      assert.deepEqual(parseHostPort(':8080', 'listen', { allowEmptyHost: true }), { host: '', port: 8080 });
      assert.deepEqual(parseHostPort('127.0.0.1:0', 'listen', { allowEmptyHost: true }), { host: '127.0.0.1', port: 0 });
    });

    it('round-trips through formatHostPort, brackets for IPv6', () => {
      for (const text of ['127.0.0.1:80', '[::1]:443', 'example.test:1']) assert.equal(formatHostPort(parseHostPort(text)), text);
    });
  });

  describe('parseUpstreams', () => {
    it('reads a comma-separated list in order', () => {
      assert.deepEqual(parseUpstreams('127.0.0.1:1, [::1]:2,localhost:3'), [
        { host: '127.0.0.1', port: 1 },
        { host: '::1', port: 2 },
        { host: 'localhost', port: 3 },
      ]);
    });

    it('accepts an array of strings and { host, port } objects', () => {
      assert.deepEqual(parseUpstreams(['127.0.0.1:1', { host: '::1', port: 2 }]), [
        { host: '127.0.0.1', port: 1 },
        { host: '::1', port: 2 },
      ]);
    });

    it('rejects an empty list, an empty item and a bad object', () => {
      assert.throws(() => parseUpstreams(''), { code: 'ZC_ERR_INVALID_ARG' });
      assert.throws(() => parseUpstreams([]), { code: 'ZC_ERR_INVALID_ARG' });
      assert.throws(() => parseUpstreams('127.0.0.1:1,'), { code: 'ZC_ERR_INVALID_ARG' });
      assert.throws(() => parseUpstreams([{ host: '', port: 1 }]), { code: 'ZC_ERR_INVALID_ARG' });
      assert.throws(() => parseUpstreams([{ host: '127.0.0.1', port: 70000 }]), { code: 'ZC_ERR_INVALID_ARG' });
    });
  });

  describe('RoundRobin', () => {
    it('starts each connection one upstream further and lists the rest as failover order', () => {
      const [a, b, c] = parseUpstreams('127.0.0.1:1,127.0.0.1:2,127.0.0.1:3');
      const ring = new RoundRobin([a!, b!, c!]);
      assert.deepEqual(ring.nextOrder(), [a, b, c]);
      assert.deepEqual(ring.nextOrder(), [b, c, a]);
      assert.deepEqual(ring.nextOrder(), [c, a, b]);
      assert.deepEqual(ring.nextOrder(), [a, b, c]);
    });

    it('tries an upstream whose connect failed last until failTimeoutMs has passed', () => {
      const [a, b, c] = parseUpstreams('127.0.0.1:1,127.0.0.1:2,127.0.0.1:3');
      const ring = new RoundRobin([a!, b!, c!], 1000);
      ring.reportFailure(b!, 0);
      assert.deepEqual(ring.nextOrder(10), [a, c, b]);
      assert.deepEqual(ring.nextOrder(20), [c, a, b], 'on its own turn the next one leads');
      assert.deepEqual(ring.nextOrder(30), [c, a, b]);
      assert.deepEqual(ring.nextOrder(1001), [a, b, c], 'back in its place after the window');
      assert.deepEqual(ring.nextOrder(1002), [b, c, a], 'and leading on its turn');
    });

    it('still tries every upstream when all have failed recently, and restores one that accepts', () => {
      const [a, b] = parseUpstreams('127.0.0.1:1,127.0.0.1:2');
      const ring = new RoundRobin([a!, b!], 1000);
      ring.reportFailure(a!, 0);
      ring.reportFailure(b!, 0);
      assert.deepEqual(ring.nextOrder(10), [a, b]);
      ring.reportSuccess(a!);
      assert.deepEqual(ring.nextOrder(20), [a, b], 'a accepted again: first even on b\'s turn');
    });

    it('keeps plain round-robin with failTimeoutMs 0', () => {
      const [a, b] = parseUpstreams('127.0.0.1:1,127.0.0.1:2');
      const ring = new RoundRobin([a!, b!], 0);
      ring.reportFailure(a!, 0);
      assert.deepEqual(ring.nextOrder(10), [a, b]);
      assert.deepEqual(ring.nextOrder(20), [b, a]);
    });

    it('always returns the single upstream when there is one', () => {
      const only = parseUpstreams('127.0.0.1:1');
      const ring = new RoundRobin(only);
      assert.deepEqual(ring.nextOrder(), only);
      assert.deepEqual(ring.nextOrder(), only);
    });
  });
});
