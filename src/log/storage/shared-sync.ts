/**
 * Group commit for fdatasync: callers that ask while a sync is running share
 * the next one, which starts when the running one ends and so covers every
 * write completed before they asked. N concurrent producers cost two syncs,
 * not N.
 */
import fs from 'node:fs';

export class SharedSync {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly fd: () => number) {}

  /** Resolves once a fdatasync that started after this call has finished. */
  sync(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued = this.running.catch(() => {}).then(() => {
      this.queued = undefined;
      return this.sync();
    });
    return this.queued;
  }

  private runOnce(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd(), (error) => (error ? reject(error) : resolve())));
  }
}
