import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";
import { formatUri, parseUri } from "../uri.js";
import { LOCATE_REQUEST } from "../ns-broadcast.js";

/** The local address this host uses to reach `remote`: what to advertise instead of 0.0.0.0. */
async function localAddressFor(remote: string, port: number): Promise<string> {
  const probe = createSocket("udp4");
  try {
    probe.connect(port, remote);
    await once(probe, "connect");
    return probe.address().address;
  } finally {
    probe.close();
  }
}

/**
 * Answers `GET_NSURI` datagrams on UDP with the nameserver's URI, so clients can find it
 * without knowing its host. A URI bound to an unspecified address (0.0.0.0) is answered
 * with the address the requester can reach.
 */
export class BroadcastResponder {
  readonly #socket: Socket;
  readonly #uri: string;

  private constructor(socket: Socket, uri: string) {
    this.#socket = socket;
    this.#uri = uri;
    socket.on("message", (message, remote) => {
      if (message.toString("latin1").trim() !== LOCATE_REQUEST) return;
      void this.#answer(remote.address, remote.port);
    });
    // A bad datagram or unreachable requester must never take the nameserver down.
    socket.on("error", () => {});
  }

  static async start(uri: string, host: string, port: number): Promise<BroadcastResponder> {
    const socket = createSocket({ type: "udp4", reuseAddr: true });
    socket.bind(port, host);
    await Promise.race([once(socket, "listening"), once(socket, "error").then(([error]) => Promise.reject(error))]);
    return new BroadcastResponder(socket, uri);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  async close(): Promise<void> {
    const closed = once(this.#socket, "close");
    this.#socket.close();
    await closed;
  }

  async #answer(address: string, port: number): Promise<void> {
    try {
      let uri = this.#uri;
      const parsed = parseUri(uri);
      if (parsed.location?.transport === "tcp" && (parsed.location.host === "0.0.0.0" || parsed.location.host === "::")) {
        uri = formatUri({ ...parsed, location: { ...parsed.location, host: await localAddressFor(address, port) } });
      }
      this.#socket.send(uri, port, address);
    } catch {
      // The requester is gone or unreachable: nothing to answer.
    }
  }
}
