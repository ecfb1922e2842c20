/**
 * A broker in this process on a fresh directory (or a given one), and
 * kafkajs clients pointed at it, quiet and with short timeouts.
 */
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';

import { createLogBroker, type LogBroker, type LogBrokerOptions } from '../../../src/index.js';
import { makeTempDir } from '../../helpers/fixtures.js';

// kafkajs prints a notice about its v2 partitioner on every producer otherwise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export interface TestBroker {
  broker: LogBroker;
  dir: string;
  port: number;
  bootstrap: string;
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** Closes the broker (not the directory). */
  close(): Promise<void>;
  /** Closes the broker and removes its directory (when this helper made it). */
  dispose(): Promise<void>;
}

export async function startBroker(options: Partial<LogBrokerOptions> = {}): Promise<TestBroker> {
  const temp = options.dir === undefined ? makeTempDir('zerocopy-log-') : undefined;
  const dir = options.dir ?? temp!.dir;
  const broker = await createLogBroker({ port: 0, groupMinSessionTimeoutMs: 1000, ...options, dir });
  const { port } = broker.address;
  const bootstrap = `127.0.0.1:${port}`;
  return {
    broker,
    dir,
    port,
    bootstrap,
    kafka: (config = {}) => new Kafka({ clientId: 'zerocopy-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100 }, ...config }),
    close: () => broker.close(),
    dispose: async () => {
      await broker.close();
      temp?.remove();
    },
  };
}
