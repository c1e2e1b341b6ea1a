import { REPORT_EVERY_BYTES, REPORT_EVERY_MESSAGES } from "../protocol/message.js";

/** Counters run modulo 2^32; differences too. */
const distance = (from: number, to: number): number => (to - from) >>> 0;

interface PeerBudget {
  sentBytes: number;
  sentMessages: number;
  confirmedBytes: number;
  confirmedMessages: number;
  /** Something was refused since the last report that made room: tell the senders when there is room again. */
  refused: boolean;
}

/**
 * What the daemon sent each connection and has not heard confirmed by its client's
 * `received` reports: the daemon's share of what may sit in ZeroMQ's queue, the kernel and
 * the network for that client. Kept below `maxBytes` and `maxMessages` (one message may
 * always go while less than a report's worth is unconfirmed), so a client that stops reading
 * cannot make the daemon hold more, and ZeroMQ's own limit (in messages) never drops silently.
 */
export class OutgoingBudget {
  readonly #maxBytes: number;
  readonly #maxMessages: number;
  readonly #peers = new Map<string, PeerBudget>();

  constructor(maxBytes: number, maxMessages: number) {
    this.#maxBytes = maxBytes;
    this.#maxMessages = maxMessages;
  }

  /** Whether `size` more bytes may go to the connection now, `allowance` beyond the bound; remembers a refusal. */
  fits(peerId: string, size: number, allowance = 0): boolean {
    const peer = this.#peers.get(peerId);
    if (!peer) return true;
    const bytes = distance(peer.confirmedBytes, peer.sentBytes);
    const messages = distance(peer.confirmedMessages, peer.sentMessages);
    // Below a report's worth the client may simply not have reported yet: never refuse then,
    // or a large message could wait for a report that never comes.
    const roomForBytes = bytes < REPORT_EVERY_BYTES || bytes + size <= this.#maxBytes + allowance;
    const roomForMessages = messages < REPORT_EVERY_MESSAGES || messages < this.#maxMessages;
    if (roomForBytes && roomForMessages) return true;
    peer.refused = true;
    return false;
  }

  /** A message of `size` bytes went to the connection. */
  charge(peerId: string, size: number): void {
    let peer = this.#peers.get(peerId);
    if (!peer) this.#peers.set(peerId, (peer = { sentBytes: 0, sentMessages: 0, confirmedBytes: 0, confirmedMessages: 0, refused: false }));
    peer.sentBytes = (peer.sentBytes + size) >>> 0;
    peer.sentMessages = (peer.sentMessages + 1) >>> 0;
  }

  /**
   * The client's report of everything received so far. A claim beyond what was sent (a
   * confused peer) confirms what was sent; one going backwards is ignored. Returns true when
   * something had been refused and the connection now has room again.
   */
  confirm(peerId: string, bytes: number, messages: number): boolean {
    const peer = this.#peers.get(peerId);
    if (!peer) return false;
    peer.confirmedBytes = advance(peer.confirmedBytes, bytes, peer.sentBytes);
    peer.confirmedMessages = advance(peer.confirmedMessages, messages, peer.sentMessages);
    if (!peer.refused) return false;
    peer.refused = false;
    return true;
  }

  /** Bytes sent to the connection and not confirmed. */
  unconfirmedBytes(peerId: string): number {
    const peer = this.#peers.get(peerId);
    return peer ? distance(peer.confirmedBytes, peer.sentBytes) : 0;
  }

  drop(peerId: string): void {
    this.#peers.delete(peerId);
  }
}

function advance(confirmed: number, claimed: number, sent: number): number {
  if (distance(confirmed, claimed) > distance(confirmed, sent)) {
    // Beyond what was sent, or behind what was confirmed: which one is told by the half of
    // the counter's range it falls in.
    return distance(confirmed, claimed) < 0x8000_0000 ? sent : confirmed;
  }
  return claimed >>> 0;
}
