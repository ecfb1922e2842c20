/**
 * One client connection: frames in, one request at a time, responses out in
 * request order (Kafka's guarantee: while a request is being handled the
 * connection is not read, exactly as Kafka mutes the channel). A request
 * this broker cannot parse, an unknown API key, an unsupported version or
 * an oversized frame closes this connection and nothing else.
 */
import type net from 'node:net';

import { sendChain } from '../transfer/send-chain.js';
import type { BrokerState, Outcome } from './context.js';
import { logRequestChannel } from './diagnostics.js';
import { FrameReader } from './frame-reader.js';
import { handlers } from './handlers/index.js';
import { ApiKey, apiName, isSupported } from './protocol/api-keys.js';
import { encodeApiVersionsResponse, encodeApiVersionsUnsupported } from './protocol/api-versions.js';
import { readRequestHeader, RESPONSE_HEADER_BYTES, type RequestHeader } from './protocol/header.js';
import { canReceive, parseProducePrefix, PRODUCE_PREFIX_MAX_BYTES, receiveProduce } from './produce-receive.js';
import { MalformedRequestError, ProtocolReader } from './protocol/reader.js';
import { ProtocolWriter } from './protocol/writer.js';

function describeRemote(socket: net.Socket): string {
  return socket.remoteAddress === undefined ? 'unknown' : `${socket.remoteAddress}:${socket.remotePort}`;
}

export class Connection {
  private readonly frames: FrameReader;
  private busy = false;
  private closed = false;
  readonly remote: string;

  private readonly onData = (chunk: Buffer) => {
    this.frames.push(chunk);
    void this.pump();
  };

  constructor(private readonly state: BrokerState, readonly socket: net.Socket, private readonly onGone: (connection: Connection) => void) {
    this.frames = new FrameReader(state.settings.maxRequestBytes);
    this.remote = describeRemote(socket);
    socket.setNoDelay(true);
    if (state.settings.idleTimeoutMs > 0) {
      socket.setTimeout(state.settings.idleTimeoutMs, () => this.close('idle'));
    }
    socket.on('data', this.onData);
    socket.on('error', () => {}); // a reset peer: 'close' follows
    socket.on('close', () => {
      this.closed = true;
      this.onGone(this);
    });
  }

  /** Closes the connection; `reason` is logged unless it is the peer's or the broker's own doing. */
  close(reason: string, quiet = false): void {
    if (this.closed) return;
    this.closed = true;
    if (!quiet) this.state.settings.onLog({ event: 'connection-closed', remote: this.remote, reason });
    this.socket.destroy();
  }

  /** Handles the frames already received, one at a time, reading nothing meanwhile. */
  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.socket.pause();
    try {
      while (!this.closed) {
        const spliced = await this.maybeReceiveProduce();
        if (spliced === 'wait') break;
        if (spliced === 'done') continue;
        const frame = this.frames.next();
        if (frame === undefined) break;
        if (!Buffer.isBuffer(frame)) return this.close(frame.problem);
        await this.handle(frame);
      }
    } catch (error) {
      const reason = error instanceof MalformedRequestError ? `malformed request: ${error.message}` : `request failed: ${(error as Error).message}`;
      if (!(error instanceof MalformedRequestError)) this.state.settings.onLog({ event: 'error', message: reason });
      this.close(reason);
    } finally {
      this.busy = false;
      if (!this.closed) this.socket.resume();
    }
  }

  /**
   * A Produce at least produceReceiveBytes large, of the simple shape, has
   * its records spliced into the segment (produce-receive.ts): 'done' when
   * it was handled so, 'wait' when more of its prefix must arrive first,
   * 'no' when the frame goes the ordinary way.
   */
  private async maybeReceiveProduce(): Promise<'done' | 'wait' | 'no'> {
    const size = this.frames.nextSize();
    if (size === undefined || size < this.state.settings.produceReceiveBytes || size > this.state.settings.maxRequestBytes) return 'no';
    const available = Math.min(this.frames.pendingBytes, 4 + size, PRODUCE_PREFIX_MAX_BYTES);
    if (available < 6 || this.frames.peek(6).readInt16BE(4) !== ApiKey.Produce) return 'no';
    const prefix = parseProducePrefix(this.frames.peek(available), size);
    if (prefix === 'incomplete') return 'wait';
    if (prefix === 'ordinary' || !isSupported(ApiKey.Produce, prefix.header.apiVersion) || !canReceive(this.state, prefix)) return 'no';
    if (logRequestChannel.hasSubscribers) logRequestChannel.publish({ ...prefix.header, apiName: 'Produce', supported: true });
    // Hand the bytes after the prefix back to the socket: receiveToFile
    // delivers them first, then splices the rest of the records.
    let skip = prefix.prefixBytes;
    const rest: Buffer[] = [];
    for (const chunk of this.frames.drain()) {
      if (skip >= chunk.length) skip -= chunk.length;
      else {
        rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      }
    }
    // Whatever the receive reads from the socket is record bytes, not frames.
    this.socket.off('data', this.onData);
    let outcome: Outcome;
    const writer = new ProtocolWriter();
    writer.int32(0).int32(prefix.header.correlationId);
    try {
      for (const chunk of rest.reverse()) this.socket.unshift(chunk);
      outcome = await receiveProduce(this.state, this.socket, prefix, writer);
    } finally {
      this.socket.on('data', this.onData);
    }
    await this.send(prefix.header, writer, outcome);
    return 'done';
  }

  private async handle(frame: Buffer): Promise<void> {
    const reader = new ProtocolReader(frame);
    const header = readRequestHeader(reader);
    const supported = isSupported(header.apiKey, header.apiVersion);
    if (logRequestChannel.hasSubscribers) {
      logRequestChannel.publish({ ...header, apiName: apiName(header.apiKey), supported });
    }
    const writer = new ProtocolWriter();
    writer.int32(0).int32(header.correlationId); // size, filled in below
    let outcome: Outcome;
    if (header.apiKey === ApiKey.ApiVersions) {
      if (supported) encodeApiVersionsResponse(writer, header.apiVersion);
      else encodeApiVersionsUnsupported(writer);
      outcome = 'respond';
    } else if (!supported) {
      outcome = { close: `${apiName(header.apiKey)} v${header.apiVersion} is not supported` };
    } else {
      outcome = await handlers.get(header.apiKey)!(this.state, { header, reader, socket: this.socket }, writer);
    }
    await this.send(header, writer, outcome);
  }

  private async send(header: RequestHeader, writer: ProtocolWriter, outcome: Outcome): Promise<void> {
    if (outcome === 'none') return;
    if (typeof outcome === 'object' && 'close' in outcome) return this.close(outcome.close);
    if (this.closed) {
      if (typeof outcome === 'object') outcome.release();
      return;
    }
    if (outcome === 'respond') {
      writer.setInt32(0, writer.length - 4);
      const bytes = writer.finish();
      await new Promise<void>((resolve) => this.socket.write(bytes, () => resolve()));
      return;
    }
    const head = writer.finish();
    head.writeInt32BE(RESPONSE_HEADER_BYTES - 4 + outcome.bytes, 0);
    try {
      await sendChain(this.socket, [head, ...outcome.chain], { method: this.state.settings.fetchMethod });
    } catch (error) {
      // Part of a response may have left: the stream cannot be framed again.
      this.close(`sending ${apiName(header.apiKey)} failed: ${(error as Error).message}`, this.socket.destroyed);
    } finally {
      outcome.release();
    }
  }
}
