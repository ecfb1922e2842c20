// A correctness gate before timing: a server that answers fast with the
// wrong bytes must not win a benchmark.

import { createHash } from 'node:crypto';
import { get } from 'node:http';

/**
 * GETs http://127.0.0.1:port/path once and checks status 200, Content-Length
 * and the sha256 of the body against the fixture. Resolves null when all
 * hold, or a short description of the first mismatch. Bounded by `timeoutMs`.
 */
export function verifyHttpBody({ port, fixture, timeoutMs = 120000 }) {
  return new Promise((resolve) => {
    const finish = (problem) => {
      clearTimeout(timer);
      req.destroy();
      resolve(problem);
    };
    const req = get({ host: '127.0.0.1', port, path: fixture.urlPath, agent: false }, (res) => {
      if (res.statusCode !== 200) return finish(`status ${res.statusCode}`);
      const length = Number(res.headers['content-length']);
      if (length !== fixture.bytes) return finish(`Content-Length ${res.headers['content-length']} instead of ${fixture.bytes}`);
      const hash = createHash('sha256');
      let received = 0;
      res.on('data', (chunk) => {
        received += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => {
        if (received !== fixture.bytes) return finish(`body of ${received} bytes instead of ${fixture.bytes}`);
        finish(hash.digest('hex') === fixture.sha256 ? null : 'body differs from the fixture (sha256)');
      });
      res.on('error', (err) => finish(`response error: ${err.message}`));
    });
    req.on('error', (err) => finish(`request error: ${err.message}`));
    const timer = setTimeout(() => finish(`no complete response within ${timeoutMs} ms`), timeoutMs);
  });
}
