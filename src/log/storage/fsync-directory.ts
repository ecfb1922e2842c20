/**
 * fsync(2) of a directory: makes the creation (or removal) of the files in
 * it durable, which fdatasync of the files themselves does not.
 */
import fs from 'node:fs';

export function fsyncDirectory(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dir, 'r', (error, fd) => {
      if (error) return reject(error);
      fs.fsync(fd, (syncError) => fs.close(fd, () => (syncError ? reject(syncError) : resolve())));
    });
  });
}
