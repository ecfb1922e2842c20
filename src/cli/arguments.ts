/**
 * Argument parsing shared by the subcommands: node:util parseArgs with
 * `-h/--help` added, and its errors rewritten for people:
 *
 *   zerocopy serve: unknown option --foo (see zerocopy serve --help)
 *   zerocopy serve: option --port needs a value (see zerocopy serve --help)
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { printError } from './output.js';

/** Exit code for bad arguments, as `cp` and `cat` use. */
export const EXIT_USAGE = 2;

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O extends Options> = O & { help: { type: 'boolean'; short: 'h' } };
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: WithHelp<O> }>>;

/** A mistake in the command line: printed by parseCommandLine's caller as a usage error. */
export class UsageError extends Error {}

/**
 * Prints `zerocopy <command>: <message> (see zerocopy <command> --help)` to
 * stderr and returns EXIT_USAGE, for `return usageError(...)`.
 */
export function usageError(command: string, message: string): number {
  printError(`${message} (see zerocopy ${command} --help)`, command);
  return EXIT_USAGE;
}

/**
 * parseArgs's messages name the option in quotes with its value placeholder
 * ("Option '-p, --port <value>' argument missing"); ours name it as typed.
 */
function describeParseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  const long = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${quoted}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(message)) return `option ${long} needs a value`;
    if (/does not take an argument/.test(message)) return `option ${long} takes no value`;
    // `--workers -2`: parseArgs will not take a value that starts with a dash.
    if (/is ambiguous/.test(message)) return `option ${long} needs a value, and values starting with '-' are not accepted (negative numbers included)`;
  }
  return message.split('\n')[0]!;
}

/**
 * Parses `argv` for `command`. Returns the parsed values, or the exit code to
 * return: 0 after printing `help` to stdout for --help, EXIT_USAGE after
 * printing a usage error (unknown option, missing value) to stderr.
 */
export function parseCommandLine<O extends Options>(command: string, argv: string[], options: O, help: string): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...options, help: { type: 'boolean', short: 'h' } } as WithHelp<O>,
    });
  } catch (error) {
    return usageError(command, describeParseError(error));
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(help);
    return 0;
  }
  return parsed;
}
