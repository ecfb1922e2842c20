/**
 * `zerocopy log serve DIR --listen HOST:PORT`: a single-node broker that
 * speaks Kafka's wire protocol over the log directory DIR. Prints one
 * "listening" line (JSON with --json), then one line per notable event.
 * SIGTERM or SIGINT closes it cleanly (syncs, leaves the clean-shutdown
 * marker so the next start skips recovery); a second signal exits at once,
 * and the next start recovers the log as after a crash.
 */
import { createLogBroker, type LogBroker, type LogBrokerEvent, type LogBrokerOptions } from '../../log/broker.js';
import { DEFAULT_MAX_REQUEST_BYTES, DEFAULT_PORT, DEFAULT_SEGMENT_BYTES } from '../../log/settings.js';
import { formatHostPort, parseHostPort } from '../../proxy/upstreams.js';
import { EXIT_USAGE, parseCommandLine } from '../arguments.js';
import type { Command } from '../index.js';
import { describeError, printError } from '../output.js';

const HELP = `Usage: zerocopy log serve DIR [options]

A single-node broker speaking Kafka's wire protocol: Kafka clients (kcat,
kafkajs, librdkafka, the Java client...) produce to and consume from the
segment files in DIR. Fetched records leave with sendfile(2).

Options:
      --listen HOST:PORT       address to listen on (default 127.0.0.1:${DEFAULT_PORT};
                               :PORT for every interface, port 0 for any free one)
      --advertise HOST:PORT    address Metadata gives clients (default: the one
                               each client connected to)
      --segment-bytes N        roll a segment before it passes N bytes
                               (default ${DEFAULT_SEGMENT_BYTES}; suffixes k, m, g)
      --fsync MODE             always (default): fdatasync before acknowledging;
                               interval: every --fsync-interval-ms (a power cut
                               may lose that much acknowledged data);
                               never: the kernel decides (a power cut may lose
                               any acknowledged data not yet written back).
                               A crash of this process alone loses nothing in
                               any mode.
      --fsync-interval-ms N    period of --fsync interval (default 1000)
      --partitions N           partitions of a topic created on first use (default 1)
      --retention-bytes N      delete old segments past N bytes per partition
      --retention-ms N         delete segments last written more than N ms ago
      --max-request-bytes N    close connections sending larger requests
                               (default ${DEFAULT_MAX_REQUEST_BYTES})
      --no-auto-create         refuse unknown topics instead of creating them
      --produce-receive-bytes N  splice the records of produce requests at least
                               this large straight into the segment (pays from
                               4m batches; default: buffer every request)
      --copy                   send fetched records through user space (comparison)
      --json                   log JSON lines
  -h, --help                   show this help`;

const SUFFIXES: Record<string, number> = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** "64m" → 67108864; plain integers as they are. */
function parseBytes(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)([kmg]?)(i?b)?$/i.exec(text.trim());
  if (!match) throw new Error(`--${name} must be a byte count (e.g. 1048576 or 64m), got '${text}'`);
  return Number(match[1]) * SUFFIXES[match[2]!.toLowerCase()]!;
}

function parseCount(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a non-negative integer, got '${text}'`);
  return Number(text);
}

type CliEvent = LogBrokerEvent | { event: 'stopped' };

function formatEvent(event: CliEvent, json: boolean): string {
  const time = new Date().toISOString();
  if (json) return JSON.stringify({ time, ...event });
  const fields = Object.entries(event).filter(([key, value]) => key !== 'event' && value !== undefined).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return [time, event.event, ...fields].join(' ');
}

/** Closes on the first SIGTERM/SIGINT; exits at once on the second. */
function closeOnSignals(broker: LogBroker, json: boolean): Promise<void> {
  return new Promise((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        console.error(formatEvent({ event: 'error', message: `second ${signal}: exiting without a clean shutdown` }, json));
        process.exit(1);
      }
      void broker.close().then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        console.log(formatEvent({ event: 'stopped' }, json));
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function serve(argv: string[]): Promise<number> {
  const parsed = parseCommandLine('log serve', argv, {
    listen: { type: 'string' },
    advertise: { type: 'string' },
    'segment-bytes': { type: 'string' },
    fsync: { type: 'string' },
    'fsync-interval-ms': { type: 'string' },
    partitions: { type: 'string' },
    'retention-bytes': { type: 'string' },
    'retention-ms': { type: 'string' },
    'max-request-bytes': { type: 'string' },
    'no-auto-create': { type: 'boolean' },
    'produce-receive-bytes': { type: 'string' },
    copy: { type: 'boolean' },
    json: { type: 'boolean' },
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  let options: LogBrokerOptions;
  try {
    if (positionals.length !== 1) throw new Error(positionals.length === 0 ? 'the log directory DIR is required' : `unexpected argument '${positionals[1]}'`);
    const listen = parseHostPort(values.listen ?? `127.0.0.1:${DEFAULT_PORT}`, '--listen', { allowEmptyHost: true });
    const advertise = values.advertise === undefined ? undefined : parseHostPort(values.advertise, '--advertise');
    const fsync = values.fsync ?? 'always';
    if (fsync !== 'always' && fsync !== 'interval' && fsync !== 'never') throw new Error(`--fsync must be always, interval or never, got '${fsync}'`);
    options = {
      dir: positionals[0]!,
      host: listen.host === '' ? '::' : listen.host,
      port: listen.port,
      ...(advertise ? { advertisedHost: advertise.host, advertisedPort: advertise.port } : {}),
      segmentBytes: parseBytes(values['segment-bytes'], 'segment-bytes'),
      fsync,
      fsyncIntervalMs: parseCount(values['fsync-interval-ms'], 'fsync-interval-ms'),
      partitions: parseCount(values.partitions, 'partitions'),
      retentionBytes: parseBytes(values['retention-bytes'], 'retention-bytes'),
      retentionMs: parseCount(values['retention-ms'], 'retention-ms'),
      maxRequestBytes: parseBytes(values['max-request-bytes'], 'max-request-bytes'),
      autoCreateTopics: values['no-auto-create'] !== true,
      produceReceiveBytes: parseBytes(values['produce-receive-bytes'], 'produce-receive-bytes'),
      fetchMethod: values.copy ? 'copy' : 'auto',
      onLog: (event) => {
        if (event.event === 'listening') return;
        const line = formatEvent(event, json);
        if (event.event === 'error') console.error(line);
        else console.log(line);
      },
    };
  } catch (error) {
    printError(describeError(error), 'log serve');
    console.error(HELP);
    return EXIT_USAGE;
  }
  let broker: LogBroker;
  try {
    broker = await createLogBroker(options);
  } catch (error) {
    const code = (error as { code?: string }).code;
    printError(`cannot start on ${options.dir}: ${describeError(error)}`, 'log serve');
    return code === 'ZC_ERR_INVALID_ARG' || code === 'ZC_ERR_OUT_OF_RANGE' ? EXIT_USAGE : 1;
  }
  const closed = closeOnSignals(broker, json);
  const address = formatHostPort(broker.address);
  const { fsync, segmentBytes } = broker.settings;
  if (json) {
    console.log(JSON.stringify({ time: new Date().toISOString(), event: 'listening', address, dir: options.dir, fsync, segmentBytes, clusterId: broker.clusterId, pid: process.pid }));
  } else {
    console.log(`zerocopy log listening on ${address}, dir ${options.dir} (fsync ${fsync}, segments of ${segmentBytes} bytes, cluster ${broker.clusterId})`);
  }
  await closed;
  return 0;
}

export const logCommand: Command = {
  summary: 'Kafka-protocol broker over a log directory (fetches by sendfile)',
  help: HELP,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'serve') return serve(rest);
    if (sub === undefined || sub === '--help' || sub === '-h') {
      console.log(HELP);
      return sub === undefined ? EXIT_USAGE : 0;
    }
    printError(`unknown subcommand '${sub}' (expected: serve)`, 'log');
    return EXIT_USAGE;
  },
};
