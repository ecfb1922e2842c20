/**
 * Run as nobody by capabilities/report.test.ts: builds the capability report
 * as an unprivileged user, once as it is and once while holding pipes past
 * fs.pipe-user-pages-soft, and prints both as JSON. Self-contained: only the
 * library is staged next to it.
 */
import { capabilityReport } from '../../src/capabilities/report.js';
import { PipePool } from '../../src/transfer/pipe-pool.js';

const plain = await capabilityReport();
// 1 MiB each: 80 MiB asked for, past the default 64 MiB soft limit per user.
const pool = new PipePool({ maxPipes: 80, sizeHint: 1 << 20 });
const held = [];
for (let i = 0; i < 80; i++) {
  const pipe = pool.acquire();
  if (!pipe) break;
  held.push(pipe);
}
const crowded = await capabilityReport();
// What a pipe made now really gets, independently of the report.
const witness = new PipePool({ maxPipes: 1, sizeHint: 1 << 20 });
const probe = witness.acquire();
const witnessCapacity = probe?.capacity;
if (probe) witness.release(probe, 0);
witness.drain();
for (const pipe of held) pool.release(pipe, 0);
pool.drain();
console.log(JSON.stringify({ plain, crowded, held: held.length, witnessCapacity }));
