// The TCP relays compared by proxy.mjs, in report order. `command` is null
// for the direct connection (the "no proxy" baseline).

import { join } from 'node:path';
import { hasCommand } from '../lib/environment.mjs';
import { BENCH_DIR } from '../lib/paths.mjs';
import { haproxyCommand } from './haproxy.mjs';
import { projectUnavailableReason, zerocopyProxyCommand } from './zerocopy.mjs';

const needsCommand = (name) => () => (hasCommand(name) ? null : `${name} is not installed`);

export const PROXIES = [
  {
    id: 'direct',
    label: 'no proxy (direct)',
    byDefault: true,
    unavailableReason: () => null,
    command: null,
  },
  {
    id: 'zerocopy',
    label: 'zerocopy proxy',
    isProject: true,
    byDefault: true,
    unavailableReason: projectUnavailableReason,
    command: ({ listenPort, upstreamPort, zerocopyArgs }) => zerocopyProxyCommand({ listenPort, upstreamPort, extraArgs: zerocopyArgs }),
  },
  {
    id: 'haproxy',
    label: 'HAProxy (splice-auto)',
    byDefault: true,
    unavailableReason: needsCommand('haproxy'),
    command: ({ listenPort, upstreamPort }) => haproxyCommand({ listenPort, upstreamPort, splice: 'auto' }),
  },
  {
    id: 'haproxy-splice',
    label: 'HAProxy (splice always)',
    byDefault: true,
    unavailableReason: needsCommand('haproxy'),
    command: ({ listenPort, upstreamPort }) => haproxyCommand({ listenPort, upstreamPort, splice: 'always' }),
  },
  {
    // Issue 11: HAProxy with the same 1 MiB pipes zerocopy uses (its default
    // is 64 KiB), the peer to beat for bulk streams.
    id: 'haproxy-splice-1m',
    label: 'HAProxy (splice, 1 MiB pipes)',
    byDefault: true,
    unavailableReason: needsCommand('haproxy'),
    command: ({ listenPort, upstreamPort }) => haproxyCommand({ listenPort, upstreamPort, splice: 'always', pipeSize: 1 << 20 }),
  },
  {
    // Plain TCP mode: HAProxy's default and what most installations run;
    // the reference for request/response traffic (bench:proxy --rr).
    id: 'haproxy-tcp',
    label: 'HAProxy (plain TCP)',
    byDefault: false,
    unavailableReason: needsCommand('haproxy'),
    command: ({ listenPort, upstreamPort }) => haproxyCommand({ listenPort, upstreamPort, splice: 'none' }),
  },
  {
    id: 'node-pipe',
    label: 'node a.pipe(b)',
    byDefault: true,
    unavailableReason: () => null,
    command: ({ listenPort, upstreamPort }) => ({
      command: process.execPath,
      args: [join(BENCH_DIR, 'peers', 'node-pipe-proxy.mjs'), '--listen', `127.0.0.1:${listenPort}`, '--to', `127.0.0.1:${upstreamPort}`],
      cwd: BENCH_DIR,
    }),
  },
  {
    // Default 8 KiB transfer buffer (socat -b); fork gives each connection a
    // child process, which the CPU accounting follows through the process group.
    id: 'socat',
    label: 'socat',
    byDefault: true,
    unavailableReason: needsCommand('socat'),
    command: ({ listenPort, upstreamPort }) => ({
      command: 'socat',
      args: [`TCP-LISTEN:${listenPort},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${upstreamPort}`],
    }),
  },
];
