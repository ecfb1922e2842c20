/**
 * `zerocopy <command>`: one entry, one module per subcommand, loaded on demand
 * so `zerocopy cat` does not pay for the HTTP server's imports.
 */
import { readFileSync } from 'node:fs';

import { isClusterWorker } from '../http/faces/workers.js';
import { EXIT_USAGE } from './arguments.js';
import { printError, printWarning } from './output.js';

/** A subcommand: runs with its own arguments and returns the exit code. */
export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text (also printed by `zerocopy help <command>`). */
  help: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<Command>> = {
  cp: async () => (await import('./commands/copy.js')).copyCommand,
  cat: async () => (await import('./commands/cat.js')).catCommand,
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  proxy: async () => (await import('./commands/proxy.js')).proxyCommand,
  log: async () => (await import('./commands/log.js')).logCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
};

/** Registers a subcommand (the server and proxy modules add theirs). */
export function registerCommand(name: string, load: () => Promise<Command>): void {
  commands[name] = load;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function usage(): Promise<string> {
  const lines = ['Usage: zerocopy <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(8)} ${(await load()).summary}`);
  lines.push('', 'Run `zerocopy help <command>` (or `zerocopy <command> --help`) for its options.');
  return lines.join('\n');
}

/**
 * One line on stderr when the native addon is missing (a failed build, an
 * unsupported platform): everything still works, through user space, and
 * the user should know why it is slower. Not when ZEROCOPY_NATIVE=0 asked
 * for exactly that, and not again from each `serve --workers` worker.
 */
async function warnIfNativeUnavailable(): Promise<void> {
  if (process.env.ZEROCOPY_NATIVE === '0' || isClusterWorker()) return;
  const { isNativeAvailable, nativeUnavailableReason } = await import('../availability.js');
  if (!isNativeAvailable()) printWarning(`native addon unavailable (${nativeUnavailableReason()}); transfers copy through user space`);
}

/**
 * Runs the CLI; resolves with the process exit code. `zerocopy` alone is a
 * usage error (usage on stderr, 2); `zerocopy help [command]` and `--help`
 * print to stdout and succeed.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    console.error(await usage());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    console.log(await usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  if (name === 'help') {
    const load = commands[rest[0]!];
    if (!load) return unknownCommand(rest[0]!);
    console.log((await load()).help);
    return 0;
  }
  const load = commands[name];
  if (!load) return unknownCommand(name);
  if (!rest.includes('--help') && !rest.includes('-h')) await warnIfNativeUnavailable();
  return (await load()).run(rest);
}

function unknownCommand(name: string): number {
  printError(`unknown command '${name}' (see zerocopy --help)`);
  return EXIT_USAGE;
}
