/**
 * Optional: a real browser's media element seeking through serveStatic.
 * Headless Chromium loads a page with a <video> whose source is a 60 s WAV
 * (an audio-only source plays in a video element, and WAV needs no encoder
 * to generate), seeks to 50 s and reports back. Media elements fetch with
 * Range requests, so a correct seek proves the 206 answers at an offset.
 * Skipped with a message when Chromium is not installed (apt-get install chromium).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';

import { serveStatic } from '../../../src/http/faces/middleware.js';
import { makeTempDir } from '../../helpers/fixtures.js';
import { withTimeout } from '../../helpers/process.js';

const CHROMIUM = ['chromium', 'chromium-browser', 'google-chrome'].find((bin) => spawnSync(bin, ['--version']).status === 0);

/** A PCM WAV file: `seconds` of a quiet 440 Hz tone, 48 kHz, 16-bit stereo. */
function writeWav(file: string, seconds: number): number {
  const rate = 48_000;
  const channels = 2;
  const frames = rate * seconds;
  const data = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const sample = Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 2000);
    data.writeInt16LE(sample, i * 4);
    data.writeInt16LE(sample, i * 4 + 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
  return header.length + data.length;
}

const PAGE = `<!DOCTYPE html>
<html><body>
<video id="v" src="/tone.wav" preload="metadata" muted></video>
<script>
const v = document.getElementById('v');
const report = (o) => fetch('/report?' + new URLSearchParams(o));
v.addEventListener('loadedmetadata', () => { v.currentTime = 50; });
v.addEventListener('seeked', () => report({ ok: 1, currentTime: v.currentTime, duration: v.duration }));
v.addEventListener('error', () => report({ ok: 0, error: v.error ? v.error.code : -1 }));
</script>
</body></html>`;

describe('a browser <video> seeking (headless Chromium)', () => {
  it('seeks to 50 s of a 60 s file through Range requests answered 206', { skip: CHROMIUM ? false : 'Chromium is not installed (apt-get install chromium)' }, async (t) => {
    const tmp = makeTempDir();
    const size = writeWav(path.join(tmp.dir, 'tone.wav'), 60);
    fs.writeFileSync(path.join(tmp.dir, 'index.html'), PAGE);
    const files = serveStatic(tmp.dir);
    const ranges: { range: string; status: number; length: string }[] = [];
    let resolveReport!: (params: URLSearchParams) => void;
    const reported = new Promise<URLSearchParams>((resolve) => (resolveReport = resolve));
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith('/report?')) {
        resolveReport(new URLSearchParams(req.url.slice('/report?'.length)));
        res.writeHead(204).end();
        return;
      }
      if (req.url === '/tone.wav') {
        res.once('close', () => ranges.push({ range: String(req.headers.range), status: res.statusCode, length: String(res.getHeader('content-length')) }));
      }
      void files(req, res);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const browser = spawn(CHROMIUM!, [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--mute-audio', '--no-first-run', '--disable-extensions',
      '--autoplay-policy=no-user-gesture-required', `--user-data-dir=${path.join(tmp.dir, 'profile')}`,
      `http://127.0.0.1:${port}/`,
    ], { stdio: 'ignore', detached: true });
    try {
      const result = await withTimeout(reported, 45000, 'the page reporting its seek');
      assert.equal(result.get('ok'), '1', `media error ${result.get('error')}`);
      assert.ok(Math.abs(Number(result.get('currentTime')) - 50) < 0.5, `currentTime ${result.get('currentTime')}`);
      assert.ok(Math.abs(Number(result.get('duration')) - 60) < 0.5, `duration ${result.get('duration')}`);
      t.diagnostic(`media requests: ${JSON.stringify(ranges)}`);
      const seeks = ranges.filter((r) => r.status === 206 && !/^bytes=0-/.test(r.range));
      assert.ok(seeks.length > 0, `a Range request at an offset was answered 206: ${JSON.stringify(ranges)}`);
      // Chromium may revalidate a cached part (Range + If-None-Match): 304 is the right answer then.
      for (const r of ranges) assert.ok(r.status === 200 || r.status === 206 || r.status === 304, JSON.stringify(r));
      // A 304 has no body and no Content-Length; every body is at most the file.
      assert.ok(ranges.every((r) => r.status === 304 || Number(r.length) <= size), JSON.stringify(ranges));
    } finally {
      // Chromium forks helpers: end the process group this test started.
      try {
        process.kill(-browser.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      server.closeAllConnections();
      server.close();
      await files.close();
      tmp.remove();
    }
  });
});
