/**
 * diagnostics_channel names of the broker. Subscribers see every request
 * as it is read, which is how the tests learn the API versions real
 * clients pick.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** Published for each request frame parsed: a `LogRequestMessage`. */
export const LOG_REQUEST_CHANNEL = 'zerocopy:log:request';

export interface LogRequestMessage {
  apiKey: number;
  /** 'Produce', 'Fetch', ... or `api-N` for a key this broker does not know. */
  apiName: string;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Whether this broker implements that key and version. */
  supported: boolean;
}

export const logRequestChannel = diagnosticsChannel.channel(LOG_REQUEST_CHANNEL);
