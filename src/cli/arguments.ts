/**
 * Argument parsing shared by the subcommands: node:util parseArgs with
 * `-h/--help` added, usage errors printed the same way everywhere.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { describeError, printError } from './output.js';

/** Exit code for bad arguments, as `cp` and `cat` use. */
export const EXIT_USAGE = 2;

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O extends Options> = O & { help: { type: 'boolean'; short: 'h' } };
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: WithHelp<O> }>>;

/**
 * Parses `argv` for `command`. Returns the parsed values, or the exit code to
 * return: 0 after printing `help` for --help, EXIT_USAGE after printing a
 * parse error (unknown option, missing value).
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
    printError(describeError(error), command);
    return EXIT_USAGE;
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(help);
    return 0;
  }
  return parsed;
}
