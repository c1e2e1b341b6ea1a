import { HIGH_WATER_MARK, type ResolvedTransportOptions } from "./options.js";

/** ZeroMQ socket options common to both ends. */
export function commonSocketOptions(options: ResolvedTransportOptions, endpoint: string) {
  return {
    linger: 0,
    // libzmq checks each frame against this; the sum over all frames is checked by the daemon and proxy.
    maxMessageSize: options.maxMessageSize,
    heartbeatInterval: options.heartbeatInterval,
    heartbeatTimeout: options.heartbeatTimeout,
    heartbeatTimeToLive: options.heartbeatTimeout,
    sendHighWaterMark: HIGH_WATER_MARK,
    receiveHighWaterMark: HIGH_WATER_MARK,
    ipv6: /^tcp:\/\/\[/.test(endpoint),
  };
}
