import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatClfTime, formatCommonLogLine, type AccessLogEntry } from '../../../src/http/faces/access-log.js';

describe('access log format', () => {
  const entry: AccessLogEntry = {
    remoteAddress: '::1', time: Date.UTC(2026, 10, 25, 21, 37, 56), method: 'GET', url: '/a b"c\n', httpVersion: '1.1',
    status: 206, bytes: 0, bodyMethod: 'sendfile', durationMs: 1, completed: true,
  };
  it('formats CLF time as [dd/Mon/yyyy:HH:MM:SS ±hhmm] in local time', () => {
    assert.match(formatClfTime(entry.time), /^\[\d{2}\/Nov\/2026:\d{2}:\d{2}:56 [+-]\d{4}\]$/);
  });
  it("escapes quotes and control characters in the request line, prints '-' for no bytes", () => {
    const line = formatCommonLogLine(entry);
    assert.ok(line.startsWith('::1 - - ['));
    assert.ok(line.endsWith('"GET /a b\\x22c\\x0a HTTP/1.1" 206 - sendfile'), line);
    assert.ok(!line.includes('\n'));
  });
  it('marks an incomplete response', () => {
    assert.ok(formatCommonLogLine({ ...entry, bytes: 5, completed: false }).endsWith(' 206 5 sendfile(aborted)'));
  });
});
