/**
 * What request handlers work with: the broker's state, its settings, and
 * the one request being answered.
 */
import type net from 'node:net';

import type { ChainPart } from '../transfer/send-chain.js';
import type { GroupCoordinator } from './groups/coordinator.js';
import type { RequestHeader } from './protocol/header.js';
import type { ProtocolReader } from './protocol/reader.js';
import type { ProtocolWriter } from './protocol/writer.js';
import type { LogStore } from './storage/log-store.js';
import type { BrokerSettings } from './settings.js';

export interface BrokerState {
  store: LogStore;
  groups: GroupCoordinator;
  settings: BrokerSettings;
  clusterId: string;
  /** Host and port clients should use for this broker, as seen from `socket`. */
  advertisedAddress(socket: net.Socket): { host: string; port: number };
}

export interface Request {
  header: RequestHeader;
  /** Positioned after the header: the body is next. */
  reader: ProtocolReader;
  socket: net.Socket;
}

/**
 * What a handler asks the connection to do:
 * - 'respond': send what it wrote into the writer (the response body);
 * - 'none': nothing (Produce with acks=0);
 * - a chain: send these parts as the body (Fetch), then call release();
 * - close: close the connection (Kafka's answer to what it cannot process).
 */
export type Outcome = 'respond' | 'none' | { chain: ChainPart[]; bytes: number; release(): void } | { close: string };

export type Handler = (state: BrokerState, request: Request, writer: ProtocolWriter) => Outcome | Promise<Outcome>;
