/**
 * Replacing a file without ever leaving it worse than before: the new bytes
 * go to a temporary file in the destination's directory (same file system,
 * so the final step is a rename), and only a complete file takes the
 * destination's name. Until then the destination is untouched; on failure
 * the temporary file is removed and nothing else.
 *
 *   dir/.name.1f3a5c0b9d2e.zerocopy-tmp   written, chmod'ed, optionally fsync'ed
 *        | rename(2) (replace)  or  link(2) + unlink(2) (no clobber)
 *        v
 *   dir/name                       a new inode: hard links to the old one keep the old bytes
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A temporary file next to its final path, open for writing. */
export interface PendingFile {
  /** Where the file will be when committed. */
  readonly finalPath: string;
  /** Its temporary name, in the same directory. */
  readonly tempPath: string;
  readonly handle: fs.promises.FileHandle;
}

/** Random bytes in the temporary name: enough that two copies never collide, O_EXCL catches the rest. */
const TEMP_NAME_RANDOM_BYTES = 6;

/**
 * Creates the temporary file for `finalPath` (O_EXCL, `mode` minus the
 * umask, as open(2) applies it). The caller owns the result and must end it
 * with `commitFile` or `discardFile`.
 */
export async function createPendingFile(finalPath: string, mode: number): Promise<PendingFile> {
  const dir = path.dirname(finalPath);
  const tempPath = path.join(dir, `.${path.basename(finalPath)}.${crypto.randomBytes(TEMP_NAME_RANDOM_BYTES).toString('hex')}.zerocopy-tmp`);
  const handle = await fs.promises.open(tempPath, 'wx', mode);
  return { finalPath, tempPath, handle };
}

/** Closes and removes the temporary file; never throws (it runs on error paths). */
export async function discardFile(file: PendingFile): Promise<void> {
  await file.handle.close().catch(() => {});
  await fs.promises.unlink(file.tempPath).catch(() => {});
}

/** Link errors that mean "this file system has no hard links", not "the name is taken". */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/**
 * Gives the finished temporary file its final name and closes it. With
 * `replace`, rename(2) swaps it in atomically (readers see the old file or
 * the new one, never a mix). Without, link(2) fails with EEXIST if the name
 * appeared since it was checked, so nothing is overwritten by a race; file
 * systems without hard links fall back to a check and rename. With `fsync`,
 * the directory is flushed too, so the new name survives a crash. On error
 * the temporary file is removed and the destination is as it was.
 */
export async function commitFile(file: PendingFile, options: { replace: boolean; fsync: boolean }): Promise<void> {
  try {
    if (options.fsync) await file.handle.sync();
    await file.handle.close();
    if (options.replace) {
      await fs.promises.rename(file.tempPath, file.finalPath);
    } else {
      try {
        await fs.promises.link(file.tempPath, file.finalPath);
        await fs.promises.unlink(file.tempPath);
      } catch (error) {
        if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
        const taken = await fs.promises.lstat(file.finalPath).then(() => true, () => false);
        if (taken) throw Object.assign(new Error(`${file.finalPath} appeared during the copy`), { code: 'EEXIST' });
        await fs.promises.rename(file.tempPath, file.finalPath);
      }
    }
  } catch (error) {
    await discardFile(file);
    throw error;
  }
  if (options.fsync) await syncDirectory(path.dirname(file.finalPath));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
