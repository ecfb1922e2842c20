/**
 * `zerocopy cat FILE...`: files to stdout in the kernel. stdout may be a
 * pipe (splice), a file or a socket (sendfile); a terminal gets a copy.
 */
import { sendFile } from '../../transfer/sendfile.js';
import { parseCommandLine } from '../arguments.js';
import type { Command } from '../index.js';
import { describeError, printError } from '../output.js';

const HELP = `Usage: zerocopy cat [options] FILE...

Writes each FILE to stdout with sendfile(2)/splice(2). "-" reads stdin.

Options:
  -v, --verbose   print each file's byte count and method to stderr
  -h, --help      show this help`;

const STDIN_FD = 0;
const STDOUT_FD = 1;

export const catCommand: Command = {
  summary: 'write files to stdout with sendfile/splice',
  help: HELP,
  async run(argv) {
    const parsed = parseCommandLine('cat', argv, { verbose: { type: 'boolean', short: 'v' } }, HELP);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    const files = positionals.length > 0 ? positionals : ['-'];
    let status = 0;
    for (const file of files) {
      try {
        const result = await sendFile(STDOUT_FD, file === '-' ? STDIN_FD : file);
        if (values.verbose) console.error(`${file}: ${result.bytes} bytes, ${result.method}`);
      } catch (error) {
        // The reader went away (`zerocopy cat f | head`): not our failure, stop quietly.
        if ((error as NodeJS.ErrnoException).code === 'EPIPE') return status;
        printError(`cannot read '${file}': ${describeError(error)}`);
        status = 1;
      }
    }
    return status;
  },
};
