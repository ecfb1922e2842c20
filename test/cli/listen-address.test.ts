import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatUrl, parseListenAddress, reachableHosts } from '../../src/cli/listen-address.js';

describe('parseListenAddress', () => {
  const table: Array<[string, { host: string; port: number } | undefined]> = [
    ['8092', { host: '127.0.0.1', port: 8092 }],
    ['0', { host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:8092', { host: '0.0.0.0', port: 8092 }],
    ['localhost:80', { host: 'localhost', port: 80 }],
    [':8092', { host: '', port: 8092 }],
    ['[::1]:8092', { host: '::1', port: 8092 }],
    ['[::]:8092', { host: '::', port: 8092 }],
    ['tcp://0.0.0.0:8092', { host: '0.0.0.0', port: 8092 }],
    ['TCP://[::1]:1/', { host: '::1', port: 1 }],
    ['tcp://8092', { host: '127.0.0.1', port: 8092 }],
    [' 127.0.0.1:65535 ', { host: '127.0.0.1', port: 65535 }],
    ['127.0.0.1:65536', undefined],
    ['65536', undefined],
    ['nowhere', undefined],
    ['::1:80', undefined],
    ['[nope]:80', undefined],
    ['[::1]80', undefined],
    ['host:', undefined],
    ['host:http', undefined],
    ['http://host:80', undefined],
    ['', undefined],
  ];
  for (const [input, expected] of table) {
    it(`${JSON.stringify(input)} → ${expected ? `${expected.host || '*'}:${expected.port}` : 'rejected'}`, () => {
      assert.deepEqual(parseListenAddress(input), expected);
    });
  }
});

describe('reachableHosts', () => {
  const interfaces = {
    lo: [
      { address: '127.0.0.1', family: 'IPv4', internal: true },
      { address: '::1', family: 'IPv6', internal: true },
    ],
    eth0: [
      { address: '192.0.2.2', family: 'IPv4', internal: false },
      { address: 'fd00::2', family: 'IPv6', internal: false },
      { address: 'fe80::1', family: 'IPv6', internal: false },
    ],
  } as unknown as ReturnType<typeof import('node:os').networkInterfaces>;

  it('a specific address is itself', () => {
    assert.deepEqual(reachableHosts('127.0.0.1', interfaces), ['127.0.0.1']);
  });
  it('0.0.0.0 lists every IPv4 address, loopback first', () => {
    assert.deepEqual(reachableHosts('0.0.0.0', interfaces), ['127.0.0.1', '192.0.2.2']);
  });
  it(':: and every-interface list IPv4 and IPv6, without link-local', () => {
    assert.deepEqual(reachableHosts('::', interfaces), ['127.0.0.1', '::1', '192.0.2.2', 'fd00::2']);
    assert.deepEqual(reachableHosts('', interfaces), ['127.0.0.1', '::1', '192.0.2.2', 'fd00::2']);
  });
  it('formats IPv6 URLs with brackets', () => {
    assert.equal(formatUrl('https', '::1', 8443), 'https://[::1]:8443/');
  });
});
