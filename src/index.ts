/**
 * zerocopy: zero-copy I/O for Node.js.
 *
 * Transfers: sendFile (sendfile(2)), splice and tee (splice(2), tee(2)),
 * copyFileRange (copy_file_range(2)) and relay (a splice pump between two
 * sockets). Each resolves with `{ bytes, method }`, where `method` says which
 * path moved the bytes, and falls back to copying when the kernel path is
 * unavailable.
 */
export { sendFile, type SendFileOptions } from './transfer/sendfile.js';
export { splice, tee, type SpliceOptions, type TeeOptions } from './transfer/splice.js';
export { copyFileRange, type CopyFileRangeOptions } from './transfer/copy-file-range.js';
export { sendChain, type ChainPart, type ChainFileRegion, type ChainResult, type ChainPartResult, type SendChainOptions } from './transfer/send-chain.js';
export { receiveToFile, type ReceiveToFileOptions, type ReceiveTarget } from './transfer/receive-to-file.js';
export {
  sendBuffers,
  DEFAULT_MIN_ZEROCOPY_BYTES,
  type SendBuffersData,
  type SendBuffersOptions,
  type SendBuffersResult,
  type SendBuffersMethod,
  type ZerocopyReport,
} from './transfer/send-buffers.js';
export { relay, type RelayOptions, type RelayResult, type RelayError } from './transfer/relay.js';
export { PipePool, type Pipe, type PipePoolOptions } from './transfer/pipe-pool.js';
export type { TransferResult } from './transfer/run.js';
export { metrics, type Metrics, type TransferMethod } from './transfer/metrics.js';
export { codes as errorCodes, isZeroCopyError, type ErrorCode, type ZeroCopyError } from './errors.js';
export type { SystemError } from './native/errno.js';
export { TRANSFER_END_CHANNEL, FALLBACK_CHANNEL, type TransferEndMessage, type FallbackMessage } from './diagnostics.js';
export { isNativeAvailable, nativeUnavailableReason } from './availability.js';
export {
  capabilityReport,
  type CapabilityReport,
  type CapabilityCheck,
  type CapabilityStatus,
  type InterfaceReport,
} from './capabilities/report.js';
export { formatCapabilityReport, summarizeCapabilities } from './capabilities/format.js';
export type { RelayStart, RelayCopyReason } from './transfer/relay.js';
export {
  createProxy,
  TcpProxy,
  formatRecordText,
  formatRecordJson,
  formatProxyHeader,
  type ProxyOptions,
  type ListenAddress,
  type CloseOptions,
  type DrainResult,
  type ProxyLogRecord,
  type ConnectionRecord,
  type ConnectionOutcome,
  type UpstreamsDownRecord,
  type RejectedRecord,
  type AcceptErrorRecord,
  type ProxyEndpoints,
  type ProxyProtocolVersion,
  type HostPort,
} from './proxy/index.js';
export { serveStatic, type StaticHandler, type Next, type StaticHttpError } from './http/faces/middleware.js';
export type { ServeStaticOptions, SetHeaders } from './http/pipeline/static-options.js';
export { sendFileResponse, type SendFileResponseOptions } from './http/faces/send-file.js';
export { createStaticServer, type StaticServer, type StaticServerOptions } from './http/faces/server.js';
export { koaStatic, type KoaStaticMiddleware, type KoaContextLike } from './http/faces/koa.js';
export { fastifyStatic, type FastifyStaticHandler, type FastifyStaticOptions } from './http/faces/fastify.js';
export { responseBodyOf, type ResponseBody, type ResponseBodyMethod } from './http/pipeline/response-info.js';
export { createLogBroker, LogBroker, type LogBrokerOptions, type LogBrokerEvent } from './log/broker.js';
export { LOG_REQUEST_CHANNEL, type LogRequestMessage } from './log/diagnostics.js';
