import diagnosticsChannel from 'node:diagnostics_channel';

import { TRANSFER_END_CHANNEL, type TransferEndMessage } from '../../src/index.js';

/** Collects every transfer's end message (method, bytes, …) until stop(). */
export function captureTransfers(): { messages: TransferEndMessage[]; stop(): void } {
  const messages: TransferEndMessage[] = [];
  const listener = (message: unknown) => messages.push(message as TransferEndMessage);
  diagnosticsChannel.subscribe(TRANSFER_END_CHANNEL, listener);
  return { messages, stop: () => diagnosticsChannel.unsubscribe(TRANSFER_END_CHANNEL, listener) };
}
