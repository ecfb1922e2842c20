import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatRecordJson, formatRecordText, type ConnectionRecord } from '../../src/proxy/log.js';

const TIME = '2026-11-25T21:00:00.000Z';

function connection(fields: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    event: 'connection',
    time: TIME,
    id: 7,
    client: '127.0.0.1:51234',
    upstream: '[::1]:9000',
    failedUpstreams: [],
    toUpstream: 1048576,
    toClient: 2048,
    copied: 0,
    durationMs: 12.345,
    connectMs: 0.44,
    method: 'splice',
    outcome: 'closed',
    ...fields,
  };
}

describe('proxy log records', () => {
  describe('as text (logfmt)', () => {
    it('writes a connection as one line of key=value pairs', () => {
      assert.equal(
        formatRecordText(connection()),
        `${TIME} connection id=7 client=127.0.0.1:51234 upstream=[::1]:9000 method=splice to_upstream=1048576 to_client=2048 ` +
          'duration_ms=12.3 connect_ms=0.4 outcome=closed',
      );
    });

    it('quotes values with spaces and shows the copy reason, failed upstreams and error', () => {
      const line = formatRecordText(connection({
        method: 'copy',
        copyReason: 'no-pipe',
        failedUpstreams: ['127.0.0.1:1 ECONNREFUSED', '127.0.0.1:2 ZC_ERR_CONNECT_TIMEOUT'],
        outcome: 'reset',
        error: 'ECONNRESET',
      }));
      assert.match(line, / failed_upstreams="127.0.0.1:1 ECONNREFUSED, 127.0.0.1:2 ZC_ERR_CONNECT_TIMEOUT" method=copy copy_reason=no-pipe /);
      assert.match(line, / outcome=reset error=ECONNRESET$/);
    });

    it('writes "-" for a connection that never reached an upstream', () => {
      const line = formatRecordText(connection({ upstream: null, method: null, connectMs: null, outcome: 'no-upstream', toUpstream: 0, toClient: 0 }));
      assert.match(line, / upstream=- method=- .* connect_ms=- outcome=no-upstream/);
    });

    it('writes the other events on one line each', () => {
      assert.equal(
        formatRecordText({ event: 'upstreams-down', time: TIME, id: 3, client: '127.0.0.1:5', tried: ['127.0.0.1:1 ECONNREFUSED'] }),
        `${TIME} upstreams-down id=3 client=127.0.0.1:5 tried="127.0.0.1:1 ECONNREFUSED" (all upstreams down: client closed)`,
      );
      assert.equal(
        formatRecordText({ event: 'rejected', time: TIME, client: '127.0.0.1:5', reason: 'max-connections', limit: 10 }),
        `${TIME} rejected client=127.0.0.1:5 reason=max-connections limit=10`,
      );
      assert.equal(formatRecordText({ event: 'accept-error', time: TIME, error: 'EMFILE' }), `${TIME} accept-error error=EMFILE`);
    });
  });

  describe('as JSON', () => {
    it('keeps every field and rounds durations to 0.1 ms', () => {
      const parsed = JSON.parse(formatRecordJson(connection()));
      assert.deepEqual(parsed, { ...connection(), durationMs: 12.3, connectMs: 0.4 });
    });
  });
});
