import { expose, oneway } from "../../decorators/index.js";
import { parsePairRequest, refusal, type PairAnswer, type PairRequest } from "./pair-message.js";
import { parsePeerMessage, type PeerMessage } from "./peer-message.js";
import { parseReplicaMessage, type ReplicaMessage } from "./replica-message.js";

/** Object id of the peer inbox in a federated nameserver's daemon. */
export const FEDERATION_OBJECT_ID = "pyro-ts.Federation";

/** Kinds of the registry replication messages; every other kind is membership's. */
const REPLICA_KINDS: ReadonlySet<unknown> = new Set(["push", "summary", "digest", "records"]);

/** Where the inbox hands what it accepted, and what it refused. */
export interface InboxHandlers {
  /** A valid membership message (peer-message.ts). */
  readonly membership: (message: PeerMessage) => void;
  /** A valid registry replication message (replica-message.ts). */
  readonly replica: (message: ReplicaMessage) => void;
  /** A valid request of a pair partner (pair-message.ts): answered at once. */
  readonly pair: (request: PairRequest) => PairAnswer;
  /** A malformed message of any kind: counted and dropped (a malformed request is answered with a refusal). */
  readonly refuse: (error: unknown) => void;
}

/**
 * Where peers deliver membership and replication messages, and pair requests: an exposed object on the
 * nameserver's own daemon, so peer links share its port, limits and CURVE setup. Every
 * message is validated before a state machine sees it; a refused one is counted and dropped.
 */
@expose
export class PeerInbox {
  readonly #handlers: InboxHandlers;

  constructor(handlers: InboxHandlers) {
    this.#handlers = handlers;
  }

  @oneway
  deliver(message: unknown): void {
    const kind = message !== null && typeof message === "object" ? (message as { kind?: unknown }).kind : undefined;
    const replica = REPLICA_KINDS.has(kind);
    let parsed: ReplicaMessage | PeerMessage;
    try {
      parsed = replica ? parseReplicaMessage(message) : parsePeerMessage(message);
    } catch (error) {
      this.#handlers.refuse(error);
      return;
    }
    if (replica) this.#handlers.replica(parsed as ReplicaMessage);
    else this.#handlers.membership(parsed as PeerMessage);
  }

  /** A request of a pair partner, answered (unlike `deliver`): accepted, or refused with a reason. */
  request(message: unknown): PairAnswer {
    let parsed: PairRequest;
    try {
      parsed = parsePairRequest(message);
    } catch (error) {
      this.#handlers.refuse(error);
      return refusal("malformed", error instanceof Error ? error.message : String(error));
    }
    return this.#handlers.pair(parsed);
  }
}
