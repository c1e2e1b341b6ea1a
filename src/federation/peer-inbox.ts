import { expose, oneway } from "../../decorators/index.js";
import { parsePeerMessage, type PeerMessage } from "./peer-message.js";

/** Object id of the peer inbox in a federated nameserver's daemon. */
export const FEDERATION_OBJECT_ID = "pyro-ts.Federation";

/**
 * Where peers deliver membership messages: an exposed object on the nameserver's own
 * daemon, so peer links share its port, limits and CURVE setup. Every message is
 * validated before the state machine sees it; a refused one is counted and dropped.
 */
@expose
export class PeerInbox {
  readonly #accept: (message: PeerMessage) => void;
  readonly #refuse: (error: unknown) => void;

  constructor(accept: (message: PeerMessage) => void, refuse: (error: unknown) => void) {
    this.#accept = accept;
    this.#refuse = refuse;
  }

  @oneway
  deliver(message: unknown): void {
    let parsed: PeerMessage;
    try {
      parsed = parsePeerMessage(message);
    } catch (error) {
      this.#refuse(error);
      return;
    }
    this.#accept(parsed);
  }
}
