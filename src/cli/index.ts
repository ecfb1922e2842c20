/**
 * `zerocopy <command>`: one entry, one module per subcommand, loaded on demand
 * so `zerocopy cat` does not pay for the HTTP server's imports.
 */
import { readFileSync } from 'node:fs';

import { printError } from './output.js';

/** A subcommand: runs with its own arguments and returns the exit code. */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<Command>> = {
  cp: async () => (await import('./commands/copy.js')).copyCommand,
  cat: async () => (await import('./commands/cat.js')).catCommand,
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  proxy: async () => (await import('./commands/proxy.js')).proxyCommand,
  log: async () => (await import('./commands/log.js')).logCommand,
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
  lines.push('', 'Run `zerocopy <command> --help` for the options of a command.');
  return lines.join('\n');
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  const load = commands[name];
  if (!load) {
    printError(`unknown command '${name}'`);
    console.error(await usage());
    return 2;
  }
  return (await load()).run(rest);
}
