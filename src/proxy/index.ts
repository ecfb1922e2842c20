/**
 * The TCP proxy: `createProxy()` and what it logs, plus the pure pieces it is
 * built from (address lists, PROXY protocol headers) for programs that
 * compose their own.
 */
export { createProxy, TcpProxy, type CloseOptions, type DrainResult } from './server.js';
export { DEFAULT_CONNECT_TIMEOUT_MS, type ListenAddress, type ProxyOptions } from './options.js';
export {
  formatRecordJson,
  formatRecordText,
  type AcceptErrorRecord,
  type ConnectionOutcome,
  type ConnectionRecord,
  type ProxyLogRecord,
  type RejectedRecord,
  type UpstreamsDownRecord,
} from './log.js';
export {
  formatProxyHeader,
  formatProxyV1,
  formatProxyV2,
  PROXY_V2_SIGNATURE,
  type ProxyAddress,
  type ProxyEndpoints,
  type ProxyProtocolVersion,
} from './proxy-protocol.js';
export { formatHostPort, parseHostPort, parseUpstreams, RoundRobin, type HostPort } from './upstreams.js';
export { dial, dialFirstAvailable, type DialAttempt, type DialOptions, type Dialed, type NoUpstreamError } from './connect.js';
