/**
 * `zerocopy doctor [--json] [--require LIST]`: which zero-copy paths this
 * host can take, and for each it cannot, why and what it costs.
 */
import { capabilityReport, type CapabilityReport } from '../../capabilities/report.js';
import { formatCapabilityReport } from '../../capabilities/format.js';
import { parseCommandLine, usageError } from '../arguments.js';
import type { Command } from '../index.js';
import { printError } from '../output.js';

const HELP = `Usage: zerocopy doctor [options]

Tries each kernel path the library can take (sendfile, splice, tee,
copy_file_range, vmsplice, MSG_ZEROCOPY, io_uring SEND_ZC, kTLS, openat2,
cachestat), reads the limits that shape them (pipe sizes, optmem_max,
RLIMIT_NOFILE, RLIMIT_MEMLOCK) and each network interface's offloads, and
says for each path that is not available why, and what it costs.
Needs no privilege; works without the native addon (what only the addon can
try is then reported as unknown).

Options:
  --json            print the report as JSON (schema: docs/doctor.md)
  --require LIST    exit 1 unless each named check is ok or limited,
                    e.g. --require sendfile,splice,msg_zerocopy_tcp
  -h, --help        show this help

Exit status: 0; 1 when a required check is not usable; 2 for a usage error.`;

/** Exit status when a --require'd path is missing. */
export const EXIT_MISSING = 1;

function missingOf(report: CapabilityReport, required: string[]): string[] {
  const by = new Map(report.checks.map((c) => [c.id, c]));
  return required.filter((id) => {
    const status = by.get(id)?.status;
    return status !== 'ok' && status !== 'limited';
  });
}

export const doctorCommand: Command = {
  summary: 'report which zero-copy paths this host can take',
  help: HELP,
  async run(argv) {
    const parsed = parseCommandLine('doctor', argv, { json: { type: 'boolean' }, require: { type: 'string', multiple: true } }, HELP);
    if (typeof parsed === 'number') return parsed;
    if (parsed.positionals.length > 0) return usageError('doctor', `unexpected argument '${parsed.positionals[0]}'`);
    const required = (parsed.values.require ?? []).flatMap((list) => list.split(',')).map((s) => s.trim()).filter(Boolean);
    const report = await capabilityReport();
    const known = new Set(report.checks.map((c) => c.id));
    const unknownIds = required.filter((id) => !known.has(id));
    if (unknownIds.length > 0) {
      return usageError('doctor', `--require: no check named ${unknownIds.map((id) => `'${id}'`).join(', ')} (known: ${[...known].join(', ')})`);
    }
    if (parsed.values.json) console.log(JSON.stringify(report, null, 2));
    else console.log(formatCapabilityReport(report));
    const missing = missingOf(report, required);
    if (missing.length === 0) return 0;
    printError(`required but not usable here: ${missing.join(', ')}`);
    return EXIT_MISSING;
  },
};

