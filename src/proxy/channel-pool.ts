import type { ResolvedTransportOptions } from "../transport/options.js";
import type { ClientSecurity } from "../transport/open-transport.js";
import type { TransportKind } from "../transport/transport.js";
import { Channel } from "./channel.js";

interface Shared {
  readonly channel: Channel;
  users: number;
}

const channels = new Map<string, Shared>();

function keyOf(endpoint: string, transport: TransportKind, options: ResolvedTransportOptions, { curve, tls }: ClientSecurity): string {
  const security = curve ? `${curve.serverKey} ${curve.keys.publicKey}` : tls ? `${tls.fingerprint} ${tls.identity?.fingerprint ?? "-"}` : "plain";
  return `${transport} ${endpoint} ${options.maxMessageSize} ${options.heartbeatInterval} ${options.heartbeatTimeout} ${security}`;
}

/** The channel to `endpoint` over `transport`, shared by every proxy with the same transport options and keys. */
export function acquireChannel(endpoint: string, options: ResolvedTransportOptions, security: ClientSecurity = {}, transport: TransportKind = "zmq"): Channel {
  const key = keyOf(endpoint, transport, options, security);
  let shared = channels.get(key);
  if (!shared || shared.channel.closed) {
    shared = { channel: new Channel(endpoint, options, security, transport), users: 0 };
    channels.set(key, shared);
  }
  shared.users++;
  return shared.channel;
}

/** Gives a channel back; the last user closes it. */
export async function releaseChannel(channel: Channel): Promise<void> {
  for (const [key, shared] of channels) {
    if (shared.channel !== channel) continue;
    if (--shared.users > 0) return;
    channels.delete(key);
    break;
  }
  await channel.close();
}
