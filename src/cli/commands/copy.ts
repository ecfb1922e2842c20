/**
 * `zerocopy cp SRC DST`: copy a file inside the kernel (copy_file_range),
 * with a progress bar on a TTY and a JSON summary otherwise.
 *
 * Users trust cp with files they have no other copy of, so it never leaves
 * DST worse than before (replace-file.ts): the bytes go to a temporary file
 * next to DST that is renamed over it only when complete, and an error or
 * a signal removes the temporary file and nothing else. SRC is compared
 * with DST by (st_dev, st_ino) before anything is created, so a file is
 * never copied onto itself (same path, symlink, hard link, `dir/f dir`).
 * The signal handlers are installed before the first file is opened.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { copyFileRange } from '../../transfer/copy-file-range.js';
import { createError } from '../../errors.js';
import { parseCommandLine, usageError } from '../arguments.js';
import type { Command } from '../index.js';
import { describeError, formatBytes, printError, ProgressLine } from '../output.js';
import { commitFile, createPendingFile, discardFile, type PendingFile } from '../replace-file.js';

const HELP = `Usage: zerocopy cp [options] SRC DST

Copies the file SRC to DST with copy_file_range(2); DST may be a directory.

DST is replaced safely: the copy is written to a temporary file next to DST
and renamed over it only once complete, so an error or Ctrl-C leaves DST as
it was. DST becomes a new file: other hard links to the old DST keep the old
bytes (use --in-place to write into the existing file instead). A DST that is
a symlink is followed: its target is replaced and the link stays.

A new DST gets SRC's permission bits minus the umask, without setuid/setgid
(as cp(1) without -p); a replaced DST keeps its own permission bits.

Options:
  -f, --force      replace DST if it exists
      --in-place   write into the existing DST itself (same inode, so hard
                   links see the new bytes); an error or Ctrl-C then leaves it
                   partly written
  -p, --preserve   give DST the mode bits, owner (when permitted) and
                   timestamps of SRC; setuid/setgid only with the owner
      --fsync      flush DST and its directory to disk before exiting
      --json       print a JSON summary (the default when stdout is not a TTY)
      --copy       copy through user space instead (for comparison)
  -h, --help       show this help

Exit status: 0 copied, 1 failed (DST unchanged), 2 bad arguments,
128+N stopped by signal N (DST unchanged).`;

/** Permission bits that survive a copy without --preserve (cp(1) drops set-id bits). */
const PERMISSION_BITS = 0o777;
/** Every mode bit chmod(2) takes, for --preserve when the owner is kept. */
const ALL_MODE_BITS = 0o7777;
/** Signals that stop a copy cleanly; the exit code is 128 + the signal number, as shells expect. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

interface CopyFlags {
  force: boolean;
  inPlace: boolean;
  preserve: boolean;
  fsync: boolean;
  json: boolean;
  forceCopy: boolean;
}

/** A failure described in full by its message (no "copying failed:" prefix). */
class CopyFailure extends Error {}

/** SIGINT/SIGTERM/SIGHUP turned into an AbortSignal, for as long as the copy runs. */
function trapStopSignals(): { signal: AbortSignal; received(): NodeJS.Signals | undefined; release(): void } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    received ??= signal;
    controller.abort();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return {
    signal: controller.signal,
    received: () => received,
    release: () => {
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    },
  };
}

async function statOrUndefined(file: string): Promise<fs.BigIntStats | undefined> {
  try {
    return await fs.promises.stat(file, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isSameInode(a: fs.BigIntStats, b: fs.BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Where the bytes go and how they get there. */
interface Destination {
  /** DST as the user will recognise it (DIR/name when DST was a directory). */
  shown: string;
  /** The file to create or replace: symlinks resolved, so the link survives. */
  finalPath: string;
  /** The file DST names now, if any. */
  existing: fs.BigIntStats | undefined;
  /**
   * 'create': temporary file, then link(2) (no clobber). 'replace':
   * temporary file, then rename(2). 'in-place': write into the existing
   * file (asked for, or a device or FIFO, which cannot be renamed over).
   */
  strategy: 'create' | 'replace' | 'in-place';
}

async function resolveDestination(source: string, sourceStats: fs.BigIntStats, requested: string, flags: CopyFlags): Promise<Destination> {
  const cannot = (error: unknown, file: string) => new CopyFailure(`cannot create '${file}': ${describeError(error)}`);
  let shown = requested;
  let existing = await statOrUndefined(requested).catch((error) => { throw cannot(error, requested); });
  if (existing?.isDirectory()) {
    shown = path.join(requested, path.basename(source));
    existing = await statOrUndefined(shown).catch((error) => { throw cannot(error, shown); });
  } else if (existing === undefined && /\/$/.test(requested)) {
    throw new CopyFailure(`cannot create '${requested}': no such directory`);
  }
  if (existing === undefined) {
    const link = await fs.promises.lstat(shown).catch(() => undefined);
    if (link?.isSymbolicLink()) throw new CopyFailure(`not writing through dangling symlink '${shown}'`);
    return { shown, finalPath: shown, existing, strategy: 'create' };
  }
  if (existing.isDirectory()) throw new CopyFailure(`cannot overwrite directory '${shown}' with a file`);
  if (isSameInode(existing, sourceStats)) throw new CopyFailure(createError('ZC_ERR_SAME_FILE', [source, shown]).message);
  if (!flags.force) throw new CopyFailure(`'${shown}' already exists (use --force to replace it)`);
  const finalPath = await fs.promises.realpath(shown);
  const strategy = flags.inPlace || !existing.isFile() ? 'in-place' : 'replace';
  return { shown, finalPath, existing, strategy };
}

/** uid/gid of this process, or undefined off POSIX. */
function currentOwner(): { uid: number; gid: number } | undefined {
  return process.getuid && process.getgid ? { uid: process.getuid(), gid: process.getgid() } : undefined;
}

/**
 * Gives the new file its owner and mode: SRC's with --preserve (set-id bits
 * only when SRC's owner could be given too, as cp -p does), the replaced
 * file's when there was one (its owner where permitted: root copying over a
 * user's file keeps it the user's), else what open(2) already set.
 */
async function applyOwnerAndMode(handle: fs.promises.FileHandle, sourceStats: fs.BigIntStats, dst: Destination, preserve: boolean): Promise<void> {
  const model = preserve ? sourceStats : dst.strategy === 'replace' ? dst.existing : undefined;
  if (model === undefined) return;
  const me = currentOwner();
  let ownerKept = me !== undefined && BigInt(me.uid) === model.uid && BigInt(me.gid) === model.gid;
  if (!ownerKept) {
    ownerKept = await handle.chown(Number(model.uid), Number(model.gid)).then(() => true, () => false);
  }
  // chown(2) clears set-id bits, so the mode comes after it.
  await handle.chmod(Number(model.mode) & (preserve && ownerKept ? ALL_MODE_BITS : PERMISSION_BITS));
}

/** Opens the destination for --in-place: the same checks, then truncation (regular files only). */
async function openInPlace(dst: Destination, sourceStats: fs.BigIntStats, source: string): Promise<fs.promises.FileHandle> {
  const handle = await fs.promises.open(dst.finalPath, fs.constants.O_WRONLY);
  try {
    const stats = await handle.stat({ bigint: true });
    // The name could point elsewhere since resolveDestination looked: check the inode we hold.
    if (isSameInode(stats, sourceStats)) throw new CopyFailure(createError('ZC_ERR_SAME_FILE', [source, dst.shown]).message);
    if (stats.isFile()) await handle.truncate(0);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

interface Summary {
  source: string;
  destination: string;
  bytes: number;
  method: string;
  seconds: number;
  bytesPerSecond: number;
}

function printSummary(summary: Summary, json: boolean): void {
  if (json) console.log(JSON.stringify(summary));
  else console.log(`${summary.destination}: ${formatBytes(summary.bytes)} in ${summary.seconds.toFixed(2)} s (${formatBytes(summary.bytesPerSecond)}/s, ${summary.method})`);
}

/** What became of DST when a copy stopped after it began writing, for the one-line message. */
function fateOf(dst: Destination, wroteInPlace: boolean): string {
  if (wroteInPlace) return `; '${dst.shown}' is partly written (--in-place)`;
  return dst.existing ? `; '${dst.shown}' is unchanged` : `; '${dst.shown}' was not created`;
}

async function copy(source: string, requested: string, flags: CopyFlags, stop: ReturnType<typeof trapStopSignals>): Promise<number> {
  let input: fs.promises.FileHandle | undefined;
  let dst: Destination | undefined;
  let pending: PendingFile | undefined;
  let inPlace: fs.promises.FileHandle | undefined;
  let progress: ProgressLine | undefined;
  let writing = false;
  try {
    try {
      input = await fs.promises.open(source, 'r');
    } catch (error) {
      throw new CopyFailure(`cannot open '${source}': ${describeError(error)}`);
    }
    const sourceStats = await input.stat({ bigint: true });
    if (sourceStats.isDirectory()) throw new CopyFailure(`'${source}' is a directory (not copied)`);
    if (!sourceStats.isFile()) throw new CopyFailure(`'${source}' is not a regular file`);
    dst = await resolveDestination(source, sourceStats, requested, flags);
    stop.signal.throwIfAborted();

    let output: fs.promises.FileHandle;
    try {
      if (dst.strategy === 'in-place') {
        inPlace = await openInPlace(dst, sourceStats, source);
        output = inPlace;
      } else {
        pending = await createPendingFile(dst.finalPath, Number(sourceStats.mode) & PERMISSION_BITS);
        output = pending.handle;
      }
    } catch (error) {
      if (error instanceof CopyFailure) throw error;
      // The temporary file goes next to DST: a directory the user may not
      // write even when DST itself is writable (GNU cp writes into DST there).
      const code = (error as NodeJS.ErrnoException).code;
      const hint = dst.strategy !== 'in-place' && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
        ? `; the copy is written next to it first and renamed over it, which needs a writable directory (--in-place writes into '${dst.shown}' itself)` : '';
      throw new CopyFailure(`cannot create '${dst.shown}': ${describeError(error)}${hint}`);
    }
    writing = true;

    progress = !flags.json && process.stderr.isTTY ? new ProgressLine(process.stderr, Number(sourceStats.size)) : undefined;
    const started = process.hrtime.bigint();
    const result = await copyFileRange(input.fd, output.fd, {
      offset: 0,
      dstOffset: 0,
      signal: stop.signal,
      method: flags.forceCopy ? 'copy' : 'auto',
      onProgress: (bytes) => progress?.update(bytes),
    });
    await applyOwnerAndMode(output, sourceStats, dst, flags.preserve);
    if (flags.preserve) await output.utimes(Number(sourceStats.atimeNs) / 1e9, Number(sourceStats.mtimeNs) / 1e9);
    stop.signal.throwIfAborted();
    if (pending) {
      await commitFile(pending, { replace: dst.strategy === 'replace', fsync: flags.fsync });
      pending = undefined;
    } else if (flags.fsync) {
      await output.sync();
    }
    progress?.update(result.bytes, true);
    progress?.finish();
    progress = undefined;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    printSummary({
      source,
      destination: dst.shown,
      bytes: result.bytes,
      method: result.method,
      seconds: Number(seconds.toFixed(6)),
      bytesPerSecond: Math.round(result.bytes / Math.max(seconds, 1e-9)),
    }, flags.json);
    return 0;
  } catch (error) {
    progress?.finish();
    if (pending) await discardFile(pending);
    const fate = writing && dst ? fateOf(dst, inPlace !== undefined) : '';
    const signal = stop.received();
    if (signal !== undefined) {
      printError(`interrupted by ${signal}${fate}`);
      return 128 + (os.constants.signals[signal] ?? 0);
    }
    if (error instanceof CopyFailure) printError(`${error.message}${fate}`);
    else printError(`copying '${source}' to '${dst?.shown ?? requested}' failed: ${describeError(error)}${fate}`);
    return 1;
  } finally {
    await inPlace?.close().catch(() => {});
    await input?.close().catch(() => {});
  }
}

export const copyCommand: Command = {
  summary: 'copy a file in the kernel (copy_file_range), safely, with progress',
  help: HELP,
  async run(argv) {
    const parsed = parseCommandLine('cp', argv, {
      force: { type: 'boolean', short: 'f' },
      'in-place': { type: 'boolean' },
      preserve: { type: 'boolean', short: 'p' },
      fsync: { type: 'boolean' },
      json: { type: 'boolean' },
      copy: { type: 'boolean' },
    }, HELP);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    if (positionals.length === 0) return usageError('cp', 'missing source and destination');
    if (positionals.length === 1) return usageError('cp', 'missing destination');
    if (positionals.length > 2) return usageError('cp', `expected SRC and DST, got ${positionals.length} paths`);
    const [source, requested] = positionals as [string, string];
    const flags: CopyFlags = {
      force: values.force === true,
      inPlace: values['in-place'] === true,
      preserve: values.preserve === true,
      fsync: values.fsync === true,
      json: values.json === true || !process.stdout.isTTY,
      forceCopy: values.copy === true,
    };
    // Before any file is opened: a Ctrl-C from here on cleans up instead of killing us mid-write.
    const stop = trapStopSignals();
    try {
      return await copy(source, requested, flags, stop);
    } finally {
      stop.release();
    }
  },
};
