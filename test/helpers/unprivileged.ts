/**
 * Running a compiled test helper as an unprivileged user (nobody), from
 * wherever the clone lives. The clone may sit in a directory only its owner
 * can enter (a home directory, `mktemp -d`, mode 0700), and the node binary
 * too (npx's cache under /root): so what the child needs — the compiled
 * library, the helper, the addon it loads, and node itself when nobody
 * cannot run it where it is — is staged in a world-readable directory under
 * the OS temp dir, and run from there.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** nobody/nogroup on Debian and most Linux systems. */
export const NOBODY = { uid: 65534, gid: 65534 };

/** The repository (or installed package) root: dist/test/helpers/ is three levels down. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ADDON = path.join('native', 'build', 'Release', 'zerocopy.node');

/** True when this process may switch to another uid (root, or CAP_SETUID). */
export function canDropPrivileges(): boolean {
  return process.getuid?.() === 0;
}

/** chmod a+rX, recursively: files 0644 (0755 when executable), directories 0755. */
function makeWorldReadable(target: string): void {
  const stats = fs.statSync(target);
  if (stats.isDirectory()) {
    fs.chmodSync(target, 0o755);
    for (const name of fs.readdirSync(target)) makeWorldReadable(path.join(target, name));
  } else {
    fs.chmodSync(target, stats.mode & 0o111 ? 0o755 : 0o644);
  }
}

function runsAsNobody(node: string, cwd: string): { ok: true } | { ok: false; why: string } {
  const probe = spawnSync(node, ['-e', 'process.exit(0)'], { ...NOBODY, cwd, encoding: 'utf8', timeout: 30000 });
  if (probe.error) return { ok: false, why: probe.error.message };
  if (probe.status !== 0) return { ok: false, why: probe.stderr.trim() || `exit ${probe.status}` };
  return { ok: true };
}

/** The outcome of `runAsNobody`: the child's result, or why it could not run at all. */
export type UnprivilegedRun = { ran: SpawnSyncReturns<string> } | { skipped: string };

/**
 * Runs `dist/test/helpers/<helper>.js` as nobody from a staged copy and
 * returns its result, or `skipped` with the reason when this system will not
 * let nobody run it (not root, or a temp dir nobody cannot enter). The
 * staged copy is removed before returning.
 */
export function runAsNobody(
  helper: string,
  options: { timeoutMs?: number; args?: string[]; memlockKiB?: number } = {},
): UnprivilegedRun {
  if (!canDropPrivileges()) return { skipped: 'needs root to run a child as nobody' };
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'zerocopy-unprivileged-'));
  try {
    fs.cpSync(path.join(ROOT, 'dist', 'src'), path.join(stage, 'dist', 'src'), { recursive: true });
    const script = path.join(stage, 'dist', 'test', 'helpers', `${helper}.js`);
    fs.mkdirSync(path.dirname(script), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'dist', 'test', 'helpers', `${helper}.js`), script);
    // ESM: the nearest package.json says "type": "module".
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(stage, 'package.json'));
    if (fs.existsSync(path.join(ROOT, ADDON))) {
      fs.mkdirSync(path.dirname(path.join(stage, ADDON)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, ADDON), path.join(stage, ADDON));
    }
    makeWorldReadable(stage);

    let node = process.execPath;
    if (!runsAsNobody(node, stage).ok) {
      // A hard link is free and keeps the inode's 0755; a copy where links are refused.
      node = path.join(stage, 'node');
      try {
        fs.linkSync(process.execPath, node);
      } catch {
        fs.copyFileSync(process.execPath, node);
      }
      fs.chmodSync(node, 0o755);
    }
    const usable = runsAsNobody(node, stage);
    if (!usable.ok) return { skipped: `nobody cannot run node from ${stage} (${usable.why}); is ${os.tmpdir()} world-accessible?` };
    const spawnOptions = { ...NOBODY, cwd: stage, encoding: 'utf8' as const, timeout: options.timeoutMs ?? 30000 };
    const args = [script, ...(options.args ?? [])];
    if (options.memlockKiB === undefined) return { ran: spawnSync(node, args, spawnOptions) };
    // RLIMIT_MEMLOCK, lowered by the shell the child starts from (nobody may lower its own limits).
    const shell = `ulimit -l ${options.memlockKiB} && exec "$0" "$@"`;
    return { ran: spawnSync('/bin/sh', ['-c', shell, node, ...args], spawnOptions) };
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
