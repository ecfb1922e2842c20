/**
 * The capability report: which zero-copy paths this host can take, and for
 * each it cannot, why and what that costs. Shared by `zerocopy doctor` and
 * the one-line summary servers print at startup. It needs no privilege and
 * works without the addon (what only the addon can try is then 'unknown').
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import type { NativeBinding } from '../native/binding.js';
import { getNative } from '../native/capabilities.js';
import { errnoOf } from '../native/errno.js';
import { probeIoUring, resultOf, type ProbeResult } from '../native/probes.js';
import { nativeUnavailableReason } from '../native/status.js';
import { PIPE_SIZE_HINT_BYTES } from '../transfer/pipe-pool.js';
import { hasIpcLock, listInterfaces, readKernelConfig, readLimit, readSysctl, readSysctlText, type Limit } from './host.js';

/** ok: usable. limited: usable below what the library asks for. unavailable: not usable here. unknown: could not be tried. */
export type CapabilityStatus = 'ok' | 'limited' | 'unavailable' | 'unknown';

export interface CapabilityCheck {
  /** Stable snake_case name (the ones `zerocopy doctor --require` takes). */
  id: string;
  title: string;
  status: CapabilityStatus;
  /** What was found: a size, a count, a setting. */
  value?: string;
  /** Why it is not 'ok'. */
  reason?: string;
  /** The errno that refused it, when one did. */
  errno?: string;
  /** What the user loses when it is not 'ok'. */
  impact?: string;
}

export interface InterfaceReport {
  name: string;
  loopback: boolean;
  operstate?: string;
  /** SIOCETHTOOL; null when it could not be read. */
  scatterGather: boolean | null;
  txChecksum: boolean | null;
  tso: boolean | null;
  gso: boolean | null;
  /** Scatter-gather and TX checksum offload: the NIC can DMA MSG_ZEROCOPY pages as they are. */
  zeroCopyTransmit: boolean | null;
  reason?: string;
}

export interface CapabilityReport {
  /** Bumped when a field changes meaning (docs/doctor.md). */
  schema: 1;
  generatedAt: string;
  host: {
    platform: string;
    arch: string;
    kernel: string;
    node: string;
    zerocopy: string;
    uid: number | null;
    /** CAP_IPC_LOCK: pinned pages are not counted against RLIMIT_MEMLOCK. */
    ipcLock: boolean | null;
  };
  native: { loaded: boolean; reason?: string };
  checks: CapabilityCheck[];
  interfaces: InterfaceReport[];
}

const KIB = 1024;
const MIB = 1024 * KIB;

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function bytes(n: number): string {
  if (n >= MIB && n % MIB === 0) return `${n / MIB} MiB`;
  if (n >= KIB && n % KIB === 0) return `${n / KIB} KiB`;
  return `${n} bytes`;
}

function check(id: string, title: string, result: ProbeResult, impact: string, reasons: Record<string, string> = {}): CapabilityCheck {
  if (result.ok) return { id, title, status: 'ok' };
  const why = reasons[result.errno] ?? `refused with ${result.errno}`;
  return { id, title, status: 'unavailable', reason: why, errno: result.errno, impact };
}

function unknown(id: string, title: string, reason: string, impact?: string): CapabilityCheck {
  return { id, title, status: 'unknown', reason, ...(impact ? { impact } : {}) };
}

const ENOSYS_REASON = { ENOSYS: 'not implemented by this kernel, or blocked by a seccomp filter' };

/** A scratch directory with one small file, removed by `remove()`. */
function scratch(base = os.tmpdir()): { dir: string; file: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(base, 'zerocopy-doctor-'));
  const file = path.join(dir, 'probe');
  fs.writeFileSync(file, Buffer.alloc(64 * KIB, 1));
  return { dir, file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `body` with a fresh pipe (the addon's, non-blocking), closing both ends after. */
function withPipe<T>(native: NativeBinding, body: (readFd: number, writeFd: number) => T): T | ProbeResult {
  const made = native.testing.pipe(0);
  if (typeof made === 'number') return resultOf(made);
  const [readFd, writeFd] = made;
  try {
    return body(readFd, writeFd);
  } finally {
    fs.closeSync(readFd);
    fs.closeSync(writeFd);
  }
}

function asResult(value: number | ProbeResult | undefined): ProbeResult {
  if (value === undefined) return { ok: false, errno: 'EIO' };
  return typeof value === 'number' ? resultOf(value) : value;
}

/** One step of each file/pipe syscall: file → pipe (sendfile, splice), pipe → pipe (tee). */
function fileChecks(native: NativeBinding, file: string): CapabilityCheck[] {
  const fd = fs.openSync(file, 'r');
  try {
    const sendfile = asResult(withPipe(native, (_, w) => native.testing.sendfileOnce(w, fd, 0, 4096)));
    const splice = asResult(withPipe(native, (_, w) => native.testing.spliceOnce(fd, 0, w, 4096)));
    const tee = asResult(withPipe(native, (r, w) => {
      fs.writeSync(w, Buffer.alloc(16, 1));
      return asResult(withPipe(native, (_, out) => native.testing.teeOnce(r, out, 16)));
    }));
    return [
      check('sendfile', 'sendfile(2)', sendfile, 'sendFile and the static server copy file bodies through user space (read + write).', ENOSYS_REASON),
      check('splice', 'splice(2)', splice, 'splice(), relay() and the proxy copy through a user-space buffer.', ENOSYS_REASON),
      check('tee', 'tee(2)', tee, 'tee() rejects with ZC_ERR_UNSUPPORTED.', ENOSYS_REASON),
    ];
  } finally {
    fs.closeSync(fd);
  }
}

function cachestatCheck(native: NativeBinding, file: string): CapabilityCheck {
  const fd = fs.openSync(file, 'r');
  try {
    return check('cachestat', 'cachestat(2) (exact page-cache residency)', resultOf(native.probes.cachestat(fd)),
      'the cold-page check samples one byte per MiB with preadv2(RWF_NOWAIT): a cold stretch between two samples can block the event loop for one read.',
      { ENOSYS: 'Linux < 6.5 (or a seccomp filter)', EPERM: 'refused for files this user may not write (newer kernels)' });
  } finally {
    fs.closeSync(fd);
  }
}

function copyFileRangeCheck(native: NativeBinding, id: string, title: string, from: string, toDir: string, impact: string): CapabilityCheck {
  const to = path.join(toDir, 'copy');
  const fdIn = fs.openSync(from, 'r');
  const fdOut = fs.openSync(to, 'w');
  try {
    const result = resultOf(native.testing.copyFileRangeOnce(fdIn, 0, fdOut, 0, 4096));
    return check(id, title, result, impact, {
      ...ENOSYS_REASON,
      EXDEV: 'the kernel refuses copies across these file systems (since Linux 5.19 only between file systems of one type)',
      EOPNOTSUPP: 'the file system does not implement it',
      EINVAL: 'the file system cannot copy these files in the kernel',
    });
  } finally {
    fs.closeSync(fdIn);
    fs.closeSync(fdOut);
  }
}

/** A writable directory on another file system than `dir`, for the cross-fs copy. */
function otherFileSystem(dir: string): string | undefined {
  const device = fs.statSync(dir).dev;
  for (const candidate of ['/dev/shm', process.cwd(), os.homedir(), '/var/tmp', '/tmp']) {
    try {
      if (fs.statSync(candidate).dev === device) continue;
      const made = fs.mkdtempSync(path.join(candidate, 'zerocopy-doctor-'));
      return made;
    } catch {
      // not there, or not writable by this user
    }
  }
  return undefined;
}

async function openat2Check(native: NativeBinding, dir: string): Promise<CapabilityCheck> {
  const c = native.constants;
  const title = 'openat2(2) RESOLVE_BENEATH';
  const impact = 'the static server opens files and then checks their real path through /proc/self/fd (still race-free, one readlink more per open).';
  const root = await native.openat2(-100 /* AT_FDCWD */, dir, c.O_PATH | c.O_DIRECTORY, 0, 0);
  if (root < 0) {
    return check('openat2_resolve_beneath', title, resultOf(root), impact, {
      ENOSYS: 'Linux < 5.6, or a seccomp filter that answers ENOSYS',
      EPERM: 'blocked by a seccomp filter (EPERM)',
    });
  }
  try {
    const inside = await native.openat2(root, 'probe', c.O_RDONLY, 0, c.RESOLVE_BENEATH | c.RESOLVE_NO_MAGICLINKS);
    if (inside >= 0) fs.closeSync(inside);
    else return check('openat2_resolve_beneath', title, resultOf(inside), impact, { EPERM: 'blocked by a seccomp filter (EPERM)' });
    const escape = await native.openat2(root, '..', c.O_PATH, 0, c.RESOLVE_BENEATH);
    if (escape >= 0) {
      fs.closeSync(escape);
      return { id: 'openat2_resolve_beneath', title, status: 'unavailable', reason: 'RESOLVE_BENEATH let ".." out of the directory', impact };
    }
    if (escape !== errnoOf('EXDEV')) return check('openat2_resolve_beneath', title, resultOf(escape), impact);
    return { id: 'openat2_resolve_beneath', title, status: 'ok' };
  } finally {
    fs.closeSync(root);
  }
}

function zerocopyChecks(native: NativeBinding): CapabilityCheck[] {
  const c = native.constants;
  const reasons = { ENOPROTOOPT: 'SO_ZEROCOPY unknown to this kernel (Linux < 4.14)', EOPNOTSUPP: 'not supported for this protocol' };
  const ring = probeIoUring(native);
  const disabled = readSysctl('kernel/io_uring_disabled');
  const ringReasons = {
    ...ENOSYS_REASON,
    EPERM: disabled === 2 ? 'kernel.io_uring_disabled = 2' : disabled === 1 ? 'kernel.io_uring_disabled = 1 and this user is not in kernel.io_uring_group' : 'blocked (a seccomp filter, or kernel.io_uring_disabled)',
  };
  const checks = [
    check('msg_zerocopy_tcp', 'MSG_ZEROCOPY on TCP (SO_ZEROCOPY)', resultOf(native.probes.soZerocopy(c.SOCK_STREAM)),
      'sendBuffers uses io_uring SEND_ZC if available, else copies into the socket buffer.', reasons),
    check('msg_zerocopy_udp', 'MSG_ZEROCOPY on UDP (SO_ZEROCOPY)', resultOf(native.probes.soZerocopy(c.SOCK_DGRAM)),
      'nothing in this library (it sends TCP); UDP senders of your own would copy.', reasons),
    check('io_uring', 'io_uring (setup and opcode probe)', ring.setup, 'sendBuffers cannot use SEND_ZC; everything else uses epoll and is unaffected.', ringReasons),
  ];
  const sendZcImpact = "sendBuffers with backend 'io_uring' copies; 'auto' uses MSG_ZEROCOPY.";
  if (!ring.setup.ok) {
    checks.push(unknown('io_uring_send_zc', 'io_uring SEND_ZC with usage reports', 'io_uring unavailable', sendZcImpact));
    checks.push(unknown('io_uring_splice', 'io_uring SPLICE', 'io_uring unavailable'));
  } else {
    checks.push(
      !ring.sendZc
        ? { id: 'io_uring_send_zc', title: 'io_uring SEND_ZC with usage reports', status: 'unavailable', reason: 'no SEND_ZC opcode (Linux < 6.0)', impact: sendZcImpact }
        : check('io_uring_send_zc', 'io_uring SEND_ZC with usage reports', ring.sendZcUsage, sendZcImpact, { EINVAL: 'SEND_ZC cannot report copies (IORING_SEND_ZC_REPORT_USAGE: Linux < 6.2)' }),
      ring.splice
        ? { id: 'io_uring_splice', title: 'io_uring SPLICE', status: 'ok' }
        : { id: 'io_uring_splice', title: 'io_uring SPLICE', status: 'unavailable', reason: 'no SPLICE opcode (Linux < 5.7)', impact: 'nothing yet (the engine reads cold files on the threadpool).' },
    );
  }
  return checks;
}

function ktlsCheck(native: NativeBinding | null): CapabilityCheck {
  const title = 'kTLS (TCP_ULP "tls")';
  const impact = 'HTTPS is encrypted in user space: TLS sockets get their bodies by copy, not sendfile.';
  const config = readKernelConfig('CONFIG_TLS');
  const loaded = readSysctlText('net/ipv4/tcp_available_ulp')?.split(/\s+/).includes('tls');
  if (native !== null) {
    const result = resultOf(native.probes.ktls());
    if (result.ok) return { id: 'ktls', title, status: 'ok' };
    let reason = `TCP_ULP "tls" refused with ${result.errno}`;
    if (result.errno === 'ENOENT') {
      reason = config === 'n' ? 'the kernel is built without it (CONFIG_TLS is not set)'
        : config === 'm' ? 'the tls module is not loaded (it is built as a module: modprobe tls, as root)'
        : 'no "tls" upper-layer protocol in this kernel (net.ipv4.tcp_available_ulp)';
    }
    return { id: 'ktls', title, status: 'unavailable', reason, errno: result.errno, impact };
  }
  if (loaded) return { id: 'ktls', title, status: 'ok', value: 'listed in net.ipv4.tcp_available_ulp' };
  if (config === 'n') return { id: 'ktls', title, status: 'unavailable', reason: 'the kernel is built without it (CONFIG_TLS is not set)', impact };
  return unknown('ktls', title, 'needs the native addon to try', impact);
}

function limitValue(limit: Limit, unit: (n: number) => string): string {
  const show = (n: number | null) => (n === null ? 'unlimited' : unit(n));
  return `${show(limit.soft)} (hard ${show(limit.hard)})`;
}

function limitChecks(native: NativeBinding | null, ipcLock: boolean | undefined): CapabilityCheck[] {
  const checks: CapabilityCheck[] = [];
  const maxSize = readSysctl('fs/pipe-max-size');
  const softPages = readSysctl('fs/pipe-user-pages-soft');
  checks.push(maxSize === undefined ? unknown('pipe_max_size', 'fs.pipe-max-size', '/proc/sys/fs/pipe-max-size is not readable')
    : { id: 'pipe_max_size', title: 'fs.pipe-max-size', status: maxSize >= PIPE_SIZE_HINT_BYTES ? 'ok' : 'limited', value: bytes(maxSize),
      ...(maxSize < PIPE_SIZE_HINT_BYTES ? { reason: `below the ${bytes(PIPE_SIZE_HINT_BYTES)} pipes the library asks for`, impact: 'smaller pipes: more splice calls per MiB.' } : {}) });
  checks.push(softPages === undefined ? unknown('pipe_user_pages_soft', 'fs.pipe-user-pages-soft', 'not readable')
    : { id: 'pipe_user_pages_soft', title: 'fs.pipe-user-pages-soft', status: 'ok',
      value: softPages === 0 ? 'unlimited' : `${softPages} pages (${bytes(softPages * 4096)} of pipe buffers per user; past it, pipes cannot grow and new ones get 8 KiB)` });
  if (native === null) {
    checks.push(unknown('pipe_size', 'pipe size obtained', 'needs the native addon to try F_SETPIPE_SZ'));
  } else {
    const got = native.probes.pipeCapacity(PIPE_SIZE_HINT_BYTES);
    if (got < 0) checks.push(check('pipe_size', 'pipe size obtained', resultOf(got), 'splice paths cannot get a pipe: they copy.'));
    else if (got >= PIPE_SIZE_HINT_BYTES) checks.push({ id: 'pipe_size', title: 'pipe size obtained', status: 'ok', value: bytes(got) });
    else {
      checks.push({
        id: 'pipe_size', title: 'pipe size obtained', status: 'limited', value: `${bytes(got)} (asked ${bytes(PIPE_SIZE_HINT_BYTES)})`,
        reason: 'F_SETPIPE_SZ refused: past fs.pipe-user-pages-soft for this user, or above fs.pipe-max-size',
        impact: `each splice moves at most ${bytes(got)}: more syscalls per MiB through pooled pipes and relays.`,
      });
    }
  }
  const optmem = readSysctl('net/core/optmem_max');
  checks.push(optmem === undefined ? unknown('optmem_max', 'net.core.optmem_max', 'not readable')
    : { id: 'optmem_max', title: 'net.core.optmem_max', status: optmem >= 32 * KIB ? 'ok' : 'limited', value: bytes(optmem),
      ...(optmem < 32 * KIB ? { reason: 'little room for MSG_ZEROCOPY notifications per socket', impact: 'sendBuffers meets ENOBUFS sooner and waits for completions.' } : {}) });
  const nofile = readLimit('Max open files');
  checks.push(nofile === undefined ? unknown('rlimit_nofile', 'RLIMIT_NOFILE', 'not readable')
    : { id: 'rlimit_nofile', title: 'RLIMIT_NOFILE', status: nofile.soft !== null && nofile.soft < 4096 ? 'limited' : 'ok', value: limitValue(nofile, String),
      ...(nofile.soft !== null && nofile.soft < 4096 ? { reason: 'a response in flight holds three fds (its socket, dups of the socket and the file), a relayed connection ten', impact: 'EMFILE under load: fewer concurrent connections.' } : {}) });
  const memlock = readLimit('Max locked memory');
  if (memlock === undefined) {
    checks.push(unknown('rlimit_memlock', 'RLIMIT_MEMLOCK', 'not readable'));
  } else {
    const small = !ipcLock && memlock.soft !== null && memlock.soft < 8 * MIB;
    checks.push({
      id: 'rlimit_memlock', title: 'RLIMIT_MEMLOCK', status: small ? 'limited' : 'ok',
      value: `${limitValue(memlock, bytes)}${ipcLock ? ', not applied: CAP_IPC_LOCK' : ''}`,
      ...(small ? { reason: 'MSG_ZEROCOPY pins pages against it (per user) and charges each send call in full', impact: 'sendBuffers writes larger than it are copied; smaller ones wait for completions (ENOBUFS).' } : {}),
    });
  }
  return checks;
}

function interfaceReports(native: NativeBinding | null): InterfaceReport[] {
  return listInterfaces().map((info) => {
    const base = { name: info.name, loopback: info.loopback, ...(info.operstate ? { operstate: info.operstate } : {}) };
    if (native === null) {
      return { ...base, scatterGather: null, txChecksum: null, tso: null, gso: null, zeroCopyTransmit: null, reason: 'needs the native addon (SIOCETHTOOL)' };
    }
    const [sg, csum, tso, gso] = native.probes.ethtool(info.name).map((v) => (v < 0 ? null : v === 1));
    const zeroCopyTransmit = sg === null || csum === null ? null : sg && csum;
    let reason: string | undefined;
    if (info.loopback) reason = 'loopback: the kernel copies zero-copy pages when it delivers them to a local socket';
    else if (zeroCopyTransmit === null) reason = 'the driver answers no ethtool query';
    else if (!sg) reason = 'no scatter-gather: MSG_ZEROCOPY sends through it are copied';
    else if (!csum) reason = 'no TX checksum offload: the kernel checksums (and so copies) zero-copy pages';
    return { ...base, scatterGather: sg ?? null, txChecksum: csum ?? null, tso: tso ?? null, gso: gso ?? null, zeroCopyTransmit, ...(reason ? { reason } : {}) };
  });
}

/**
 * Probes the host: the addon, every kernel path the library can take
 * (sendfile, splice, tee, copy_file_range within and across file systems,
 * vmsplice, MSG_ZEROCOPY, io_uring and its SEND_ZC/SPLICE opcodes, kTLS,
 * openat2 RESOLVE_BENEATH, cachestat), the limits that shape them and each
 * network interface's offloads. Creates and removes a few temporary files,
 * pipes and sockets; needs no privilege; never throws for what it finds.
 */
export async function capabilityReport(): Promise<CapabilityReport> {
  const native = getNative();
  const ipcLock = hasIpcLock();
  const checks: CapabilityCheck[] = [];
  const needsAddon = `needs the native addon (${nativeUnavailableReason() ?? 'not loaded'})`;
  checks.push(native ? { id: 'native', title: 'native addon', status: 'ok', value: 'loaded' }
    : { id: 'native', title: 'native addon', status: 'unavailable', reason: nativeUnavailableReason() ?? 'not loaded', impact: 'every transfer copies through user space.' });
  if (native === null) {
    for (const [id, title] of [['sendfile', 'sendfile(2)'], ['splice', 'splice(2)'], ['tee', 'tee(2)'], ['copy_file_range', 'copy_file_range(2)'],
      ['copy_file_range_cross_fs', 'copy_file_range(2) across file systems'], ['vmsplice', 'vmsplice(2)'], ['msg_zerocopy_tcp', 'MSG_ZEROCOPY on TCP (SO_ZEROCOPY)'],
      ['msg_zerocopy_udp', 'MSG_ZEROCOPY on UDP (SO_ZEROCOPY)']] as const) {
      checks.push(unknown(id, title, needsAddon));
    }
    const disabled = readSysctl('kernel/io_uring_disabled');
    checks.push(disabled === 2 ? { id: 'io_uring', title: 'io_uring (setup and opcode probe)', status: 'unavailable', reason: 'kernel.io_uring_disabled = 2' }
      : unknown('io_uring', 'io_uring (setup and opcode probe)', `${needsAddon}${disabled === undefined ? '' : `; kernel.io_uring_disabled = ${disabled}`}`));
    checks.push(unknown('io_uring_send_zc', 'io_uring SEND_ZC with usage reports', needsAddon), unknown('io_uring_splice', 'io_uring SPLICE', needsAddon));
    checks.push(ktlsCheck(null));
    checks.push(unknown('openat2_resolve_beneath', 'openat2(2) RESOLVE_BENEATH', needsAddon), unknown('cachestat', 'cachestat(2) (exact page-cache residency)', needsAddon));
  } else {
    const tmp = scratch();
    try {
      checks.push(...fileChecks(native, tmp.file));
      checks.push(copyFileRangeCheck(native, 'copy_file_range', 'copy_file_range(2)', tmp.file, tmp.dir, 'copyFileRange and `zerocopy cp` copy through user space.'));
      const other = otherFileSystem(tmp.dir);
      if (other === undefined) {
        checks.push(unknown('copy_file_range_cross_fs', 'copy_file_range(2) across file systems', 'no second writable file system found to try'));
      } else {
        try {
          const cross = copyFileRangeCheck(native, 'copy_file_range_cross_fs', 'copy_file_range(2) across file systems', tmp.file, other,
            'copies between these file systems go through user space (copyFileRange falls back by itself).');
          checks.push({ ...cross, value: `${os.tmpdir()} → ${path.dirname(other)}` });
        } finally {
          fs.rmSync(other, { recursive: true, force: true });
        }
      }
      checks.push(check('vmsplice', 'vmsplice(2)', resultOf(native.probes.vmsplice()),
        'nothing: the library never offers vmsplice (nothing tells when the kernel is done with the pages: docs/api/send-buffers.md).', ENOSYS_REASON));
      checks.push(...zerocopyChecks(native));
      checks.push(ktlsCheck(native));
      checks.push(await openat2Check(native, tmp.dir));
      checks.push(cachestatCheck(native, tmp.file));
    } finally {
      tmp.remove();
    }
  }
  checks.push(...limitChecks(native, ipcLock));
  return {
    schema: 1,
    generatedAt: new Date().toISOString(),
    host: {
      platform: process.platform,
      arch: process.arch,
      kernel: os.release(),
      node: process.version,
      zerocopy: packageVersion(),
      uid: process.getuid?.() ?? null,
      ipcLock: ipcLock ?? null,
    },
    native: native ? { loaded: true } : { loaded: false, reason: nativeUnavailableReason() ?? 'not loaded' },
    checks,
    interfaces: interfaceReports(native),
  };
}
