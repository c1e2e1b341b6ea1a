import type { PeerInfo } from "../federation/member.js";
import type { RemoteOrigins } from "../federation/replica-remote.js";
import type { NameEvent } from "../federation/replica-view.js";
import type { Signal } from "../signal.js";

/** What the bridge needs of the federation it bridges (Federation is one). */
export interface BridgedFederation {
  readonly id: string;
  /** The lowest live id, ours included. */
  readonly leader: string;
  readonly leaderChanged: Signal<[leader: string]>;
  readonly nameChanged: Signal<[event: NameEvent]>;
  peers(): PeerInfo[];
  /** A step on the replica's remote origins; undefined once the federation has left. */
  bridge<T>(step: (remote: RemoteOrigins, now: number) => T): T | undefined;
}
