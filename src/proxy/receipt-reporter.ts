import { REPORT_EVERY_BYTES, REPORT_EVERY_MESSAGES } from "../protocol/message.js";

const distance = (from: number, to: number): number => (to - from) >>> 0;

/**
 * Counts what a connection received from its daemon and reports it (`received`) at the latest
 * every 4 MiB or 1000 messages, so the daemon can bound what it has sent and not heard
 * confirmed (docs/protocol.md, Outgoing bounds). Counters run modulo 2^32.
 */
export class ReceiptReporter {
  readonly #report: (bytes: number, messages: number) => void;
  #bytes = 0;
  #messages = 0;
  #reportedBytes = 0;
  #reportedMessages = 0;

  constructor(report: (bytes: number, messages: number) => void) {
    this.#report = report;
  }

  /** A new connection: the daemon counts it from zero. */
  reset(): void {
    this.#bytes = this.#messages = this.#reportedBytes = this.#reportedMessages = 0;
  }

  /** One message of `size` bytes (its frames; a batch header is not counted) arrived. */
  received(size: number): void {
    this.#bytes = (this.#bytes + size) >>> 0;
    this.#messages = (this.#messages + 1) >>> 0;
    if (distance(this.#reportedBytes, this.#bytes) < REPORT_EVERY_BYTES && distance(this.#reportedMessages, this.#messages) < REPORT_EVERY_MESSAGES) return;
    this.#reportedBytes = this.#bytes;
    this.#reportedMessages = this.#messages;
    this.#report(this.#bytes, this.#messages);
  }
}
