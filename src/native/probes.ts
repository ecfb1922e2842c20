/**
 * The addon's capability probes, typed: each tries one kernel facility on
 * descriptors it makes and closes. Used by the capability report (`zerocopy
 * doctor`) and, cached once per process, by sendBuffers to know whether
 * io_uring SEND_ZC can be used before it sends a byte.
 */
import util from 'node:util';

import type { NativeBinding } from './binding.js';

/** A probe's answer: ok, or the errno name that refused it. */
export type ProbeResult = { ok: true } | { ok: false; errno: string };

/** 'ENOSYS' for -38; a readable fallback for numbers libuv does not name. */
export function errnoName(negativeErrno: number): string {
  try {
    return util.getSystemErrorName(negativeErrno);
  } catch {
    return `errno ${-negativeErrno}`;
  }
}

export function resultOf(value: number): ProbeResult {
  return value >= 0 ? { ok: true } : { ok: false, errno: errnoName(value) };
}

export interface IoUringProbe {
  /** io_uring_setup and IORING_REGISTER_PROBE both worked. */
  setup: ProbeResult;
  /** IORING_FEAT_* bits. */
  features: number;
  /** The highest opcode this kernel knows. */
  lastOp: number;
  sendZc: boolean;
  sendmsgZc: boolean;
  splice: boolean;
  /** SEND_ZC accepts IORING_SEND_ZC_REPORT_USAGE (6.2): the notification says whether the kernel copied. */
  sendZcUsage: ProbeResult;
}

/** Sets up a 4-entry ring and asks it which opcodes it supports. */
export function probeIoUring(native: NativeBinding): IoUringProbe {
  const [status, features, lastOp, sendZc, sendmsgZc, splice, usage] = native.probes.ioUring();
  return {
    setup: resultOf(status),
    features,
    lastOp,
    sendZc: sendZc === 1,
    sendmsgZc: sendmsgZc === 1,
    splice: splice === 1,
    sendZcUsage: status < 0 ? resultOf(status) : resultOf(usage),
  };
}

let sendZcSupport: { ok: boolean; reason?: string } | undefined;

/**
 * Whether sendBuffers may use io_uring SEND_ZC here, probed once per process:
 * a ring must be allowed (io_uring_disabled, seccomp), SEND_ZC known (6.0)
 * and able to report copies (6.2), or results could claim zero-copy the
 * kernel never confirmed.
 */
export function ioUringSendZcSupport(native: NativeBinding): { ok: boolean; reason?: string } {
  if (sendZcSupport === undefined) {
    const probe = probeIoUring(native);
    if (!probe.setup.ok) sendZcSupport = { ok: false, reason: `io_uring unavailable (${probe.setup.errno})` };
    else if (!probe.sendZc) sendZcSupport = { ok: false, reason: 'io_uring has no SEND_ZC (Linux < 6.0)' };
    else if (!probe.sendZcUsage.ok) sendZcSupport = { ok: false, reason: `SEND_ZC cannot report copies (Linux < 6.2: ${probe.sendZcUsage.errno})` };
    else sendZcSupport = { ok: true };
  }
  return sendZcSupport;
}
