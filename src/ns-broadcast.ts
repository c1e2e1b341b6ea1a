/**
 * Pyro's GET_NSURI broadcast query, shared by pyro-ts's own locateNs and the Pyro5 client's:
 * both nameservers answer it with their URI as text.
 */
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { parseUri } from "./uri.js";

/** What a client sends to a nameserver's broadcast responder (UDP, port 9091 by default). */
export const LOCATE_REQUEST = "GET_NSURI";

const BROADCAST_TRIES = 3;

/** Asks the broadcast responders for the nameserver's URI: Pyro's GET_NSURI, a few tries. */
export async function discoverNsUri(addresses: readonly string[], port: number, timeoutMs: number): Promise<string | undefined> {
  if (addresses.length === 0) return undefined;
  const socket = createSocket("udp4");
  try {
    socket.bind(0);
    await once(socket, "listening");
    socket.setBroadcast(true);
    for (let attempt = 0; attempt < BROADCAST_TRIES; attempt++) {
      const answer = new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs / BROADCAST_TRIES);
        socket.once("message", (message) => {
          clearTimeout(timer);
          resolve(message.toString("latin1"));
        });
      });
      for (const address of addresses) socket.send(LOCATE_REQUEST, port, address, () => {});
      const uri = await answer;
      socket.removeAllListeners("message");
      if (uri !== undefined) {
        try {
          parseUri(uri);
          return uri;
        } catch {
          // Not a URI: someone else answers on this port. Keep asking.
        }
      }
    }
    return undefined;
  } finally {
    socket.close();
  }
}
