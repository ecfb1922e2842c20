/**
 * What the host says about itself through /proc and /sys, readable by any
 * user and without the addon: kernel settings, this process's limits and
 * capabilities, the network interfaces and the kernel's build options.
 * Every reader returns undefined where the file is missing or unreadable.
 */
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A sysctl as an integer, e.g. readSysctl('fs/pipe-max-size'). */
export function readSysctl(name: string): number | undefined {
  const text = readText(`/proc/sys/${name}`)?.trim();
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  return Number(text);
}

/** A sysctl as text (e.g. net/ipv4/tcp_available_ulp). */
export function readSysctlText(name: string): string | undefined {
  return readText(`/proc/sys/${name}`)?.trim();
}

export interface Limit {
  /** Bytes or count; null when unlimited. */
  soft: number | null;
  hard: number | null;
}

/** A resource limit of this process from /proc/self/limits ("Max open files", "Max locked memory"). */
export function readLimit(title: string): Limit | undefined {
  const line = readText('/proc/self/limits')?.split('\n').find((l) => l.startsWith(title));
  if (line === undefined) return undefined;
  const fields = line.slice(title.length).trim().split(/\s+/);
  const parse = (value: string | undefined) => (value === undefined || value === 'unlimited' ? null : Number(value));
  return { soft: parse(fields[0]), hard: parse(fields[1]) };
}

const CAP_IPC_LOCK = 14n;

/** Whether this process holds CAP_IPC_LOCK (effective set): pinned pages are then not counted against RLIMIT_MEMLOCK. */
export function hasIpcLock(): boolean | undefined {
  const line = readText('/proc/self/status')?.split('\n').find((l) => l.startsWith('CapEff:'));
  if (line === undefined) return undefined;
  return ((BigInt(`0x${line.slice('CapEff:'.length).trim()}`) >> CAP_IPC_LOCK) & 1n) === 1n;
}

export interface InterfaceInfo {
  name: string;
  loopback: boolean;
  /** /sys/class/net/<name>/operstate: up, down, unknown, ... */
  operstate: string | undefined;
}

/** Every network interface, from /sys/class/net (including those without an address). */
export function listInterfaces(): InterfaceInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/class/net');
  } catch {
    return Object.keys(os.networkInterfaces()).map((name) => ({ name, loopback: name === 'lo', operstate: undefined }));
  }
  return names.sort().map((name) => ({
    name,
    // ARPHRD_LOOPBACK
    loopback: readText(`/sys/class/net/${name}/type`)?.trim() === '772',
    operstate: readText(`/sys/class/net/${name}/operstate`)?.trim(),
  }));
}

/**
 * A kernel build option (CONFIG_TLS → 'y', 'm', or 'n' when "is not set"),
 * from /proc/config.gz or /boot/config-<release>; undefined when neither
 * is readable.
 */
export function readKernelConfig(option: string): 'y' | 'm' | 'n' | undefined {
  let text: string | undefined;
  try {
    text = zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    text = readText(`/boot/config-${os.release()}`);
  }
  if (text === undefined) return undefined;
  const set = new RegExp(`^${option}=(y|m)$`, 'm').exec(text);
  if (set) return set[1] as 'y' | 'm';
  return 'n';
}
