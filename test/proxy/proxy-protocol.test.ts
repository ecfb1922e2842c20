import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatProxyV1, formatProxyV2, ipv6Bytes, type ProxyEndpoints } from '../../src/proxy/proxy-protocol.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const SIGNATURE = '0d0a0d0a000d0a515549540a';

function endpoints(src: string, srcPort: number, dst: string, dstPort: number): ProxyEndpoints {
  return { source: { address: src, port: srcPort }, destination: { address: dst, port: dstPort } };
}

describe('PROXY protocol', () => {
  describe('version 1 (text)', () => {
    const cases: Array<[string, ProxyEndpoints | undefined, string]> = [
      ['the spec example (§2.1)', endpoints('192.168.0.1', 56324, '192.168.0.11', 443), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'],
      ['the longest TCP4 line (56 bytes, §2.1)', endpoints('255.255.255.255', 65535, '255.255.255.255', 65535),
        'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n'],
      ['the longest TCP6 line (104 bytes, §2.1)',
        endpoints('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535),
        'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n'],
      ['IPv6 loopback', endpoints('::1', 40000, '::1', 8080), 'PROXY TCP6 ::1 ::1 40000 8080\r\n'],
      ['a v4-mapped client of a dual-stack listener stays TCP6, as the kernel reports it',
        endpoints('::ffff:127.0.0.1', 40000, '::ffff:127.0.0.1', 8080), 'PROXY TCP6 ::ffff:127.0.0.1 ::ffff:127.0.0.1 40000 8080\r\n'],
      ['mixed families: the IPv4 side is written v4-mapped (HAProxy make_proxy_line)',
        endpoints('192.0.2.7', 1234, '2001:db8::2', 443), 'PROXY TCP6 ::ffff:192.0.2.7 2001:db8::2 1234 443\r\n'],
      ['an IPv6 zone is dropped: the header has no field for it', endpoints('fe80::1%lo', 1, 'fe80::2%lo', 2), 'PROXY TCP6 fe80::1 fe80::2 1 2\r\n'],
      ['no endpoints: UNKNOWN, short form (15 bytes)', undefined, 'PROXY UNKNOWN\r\n'],
      ['a non-IP address (a Unix socket path): UNKNOWN', endpoints('/run/app.sock', 0, '/run/app.sock', 0), 'PROXY UNKNOWN\r\n'],
      ['an impossible port: UNKNOWN rather than a line receivers must reject', endpoints('127.0.0.1', 70000, '127.0.0.1', 1), 'PROXY UNKNOWN\r\n'],
    ];
    for (const [name, input, expected] of cases) {
      it(`writes ${name}`, () => {
        const header = formatProxyV1(input);
        assert.equal(header.toString('latin1'), expected);
        assert.ok(header.length <= 107, 'fits the 107-byte limit receivers must support');
      });
    }
  });

  describe('version 2 (binary)', () => {
    const cases: Array<[string, ProxyEndpoints | undefined, string]> = [
      ['TCP over IPv4: 172.19.0.1:42578 → 172.19.0.3:80 (28 bytes)', endpoints('172.19.0.1', 42578, '172.19.0.3', 80),
        `${SIGNATURE} 21 11 000c ac130001 ac130003 a652 0050`],
      ['the §2.1 addresses in binary', endpoints('192.168.0.1', 56324, '192.168.0.11', 443),
        `${SIGNATURE} 21 11 000c c0a80001 c0a8000b dc04 01bb`],
      ['TCP over IPv6: ::1 → ::1 (52 bytes)', endpoints('::1', 1, '::1', 2),
        `${SIGNATURE} 21 21 0024 ${'00'.repeat(15)}01 ${'00'.repeat(15)}01 0001 0002`],
      ['mixed families: the IPv4 side v4-mapped inside AF_INET6', endpoints('192.0.2.7', 1234, '2001:db8::2', 443),
        `${SIGNATURE} 21 21 0024 ${'00'.repeat(10)}ffff c0000207 20010db8${'00'.repeat(11)}02 04d2 01bb`],
      ['no endpoints: LOCAL with AF_UNSPEC and no address block (16 bytes)', undefined, `${SIGNATURE} 20 00 0000`],
      ['a non-IP address: LOCAL, UNSPEC', endpoints('/run/app.sock', 0, '/run/app.sock', 0), `${SIGNATURE} 20 00 0000`],
    ];
    for (const [name, input, expected] of cases) {
      it(`writes ${name}`, () => {
        const header = formatProxyV2(input);
        assert.equal(header.toString('hex'), hex(expected).toString('hex'));
        assert.equal(header.length, 16 + header.readUInt16BE(14), 'total length is 16 + the length field (§2.2)');
      });
    }
  });

  describe('IPv6 text to bytes', () => {
    const cases: Array<[string, string]> = [
      ['::', '00'.repeat(16)],
      ['::1', `${'00'.repeat(15)}01`],
      ['1::', `0001${'00'.repeat(14)}`],
      ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
      ['2001:db8::ff00:42:8329', '20010db8000000000000ff0000428329'],
      ['2001:DB8:0:0:0:0:0:1', '20010db8000000000000000000000001'],
      ['::ffff:1.2.3.4', `${'00'.repeat(10)}ffff01020304`],
      ['64:ff9b::192.0.2.33', `0064ff9b${'00'.repeat(8)}c0000221`],
      ['fe80::1%eth0', `fe80${'00'.repeat(13)}01`],
    ];
    for (const [text, expected] of cases) {
      it(`reads ${text}`, () => assert.equal(ipv6Bytes(text).toString('hex'), expected));
    }
    for (const bad of ['', '1:2:3:4:5:6:7:8:9', '1::2::3', '127.0.0.1', 'gggg::1', ':::']) {
      it(`rejects ${JSON.stringify(bad)} with ZC_ERR_INVALID_ARG`, () => {
        assert.throws(() => ipv6Bytes(bad), { code: 'ZC_ERR_INVALID_ARG' });
      });
    }
  });
});
