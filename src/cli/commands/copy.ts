/**
 * `zerocopy cp SRC DST`: copy a file inside the kernel (copy_file_range),
 * with a progress bar on a TTY and a JSON summary otherwise. The copy is
 * all or nothing: a partial DST is removed on failure or Ctrl-C.
 */
import fs from 'node:fs';
import path from 'node:path';

import { copyFileRange } from '../../transfer/copy-file-range.js';
import { createError } from '../../errors.js';
import { EXIT_USAGE, parseCommandLine } from '../arguments.js';
import type { Command } from '../index.js';
import { describeError, formatBytes, printError, ProgressLine } from '../output.js';

const HELP = `Usage: zerocopy cp [options] SRC DST

Copies SRC to DST with copy_file_range(2); DST may be a directory.

Options:
  -f, --force   overwrite DST if it exists
      --json    print a JSON summary (the default when stdout is not a TTY)
      --copy    copy through user space instead (for comparison)
  -h, --help    show this help`;

/** Exit code of a process stopped by SIGINT (128 + 2), as shells expect. */
const EXIT_INTERRUPTED = 130;

async function resolveDestination(source: string, destination: string): Promise<string> {
  const stats = await fs.promises.stat(destination).catch(() => undefined);
  return stats?.isDirectory() ? path.join(destination, path.basename(source)) : destination;
}

export const copyCommand: Command = {
  summary: 'copy a file in the kernel (copy_file_range), with progress',
  async run(argv) {
    const parsed = parseCommandLine('cp', argv, {
      force: { type: 'boolean', short: 'f' },
      json: { type: 'boolean' },
      copy: { type: 'boolean' },
    }, HELP);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    if (positionals.length !== 2) {
      printError('expected SRC and DST', 'cp');
      console.error(HELP);
      return EXIT_USAGE;
    }
    const [source, requested] = positionals as [string, string];
    const json = values.json || !process.stdout.isTTY;

    let sourceStats: fs.Stats;
    try {
      sourceStats = await fs.promises.stat(source);
      if (!sourceStats.isFile()) throw createError('ZC_ERR_INVALID_ARG', ['SRC', 'a regular file', source]);
    } catch (error) {
      printError(`${source}: ${describeError(error)}`, 'cp');
      return 1;
    }
    const destination = await resolveDestination(source, requested);

    let target: fs.promises.FileHandle;
    try {
      // 'wx' (O_EXCL): never clobber unless asked, and no check-then-open race.
      target = await fs.promises.open(destination, values.force ? 'w' : 'wx', sourceStats.mode & 0o7777);
    } catch (error) {
      const message = (error as NodeJS.ErrnoException).code === 'EEXIST'
        ? createError('ZC_ERR_TARGET_EXISTS', [destination]).message
        : describeError(error);
      printError(message, 'cp');
      return 1;
    }

    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    const progress = !json && process.stderr.isTTY ? new ProgressLine(process.stderr, sourceStats.size) : undefined;
    const started = process.hrtime.bigint();
    try {
      const result = await copyFileRange(source, target, {
        signal: controller.signal,
        method: values.copy ? 'copy' : 'auto',
        onProgress: (bytes) => progress?.update(bytes),
      });
      // open() applied the umask; the copy keeps the source's mode bits.
      await target.chmod(sourceStats.mode & 0o7777);
      progress?.update(result.bytes, true);
      progress?.finish();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const summary = {
        source,
        destination,
        bytes: result.bytes,
        method: result.method,
        seconds: Number(seconds.toFixed(6)),
        bytesPerSecond: Math.round(result.bytes / Math.max(seconds, 1e-9)),
      };
      if (json) console.log(JSON.stringify(summary));
      else console.log(`${destination}: ${formatBytes(result.bytes)} in ${seconds.toFixed(2)} s (${formatBytes(summary.bytesPerSecond)}/s, ${result.method})`);
      return 0;
    } catch (error) {
      progress?.finish();
      await fs.promises.unlink(destination).catch(() => {});
      if (controller.signal.aborted) {
        printError(`interrupted; removed partial ${destination}`, 'cp');
        return EXIT_INTERRUPTED;
      }
      printError(`${describeError(error)}; removed partial ${destination}`, 'cp');
      return 1;
    } finally {
      process.off('SIGINT', onSigint);
      await target.close().catch(() => {});
    }
  },
};
