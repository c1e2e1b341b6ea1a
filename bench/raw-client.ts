import { Dealer } from "zeromq";
import { ReplyWaiters } from "./reply-waiters.js";

/**
 * The baseline client: a bare zeromq.js DEALER. Replies come back in order, so a FIFO of
 * waiters (ReplyWaiters) is all the matching it needs; sends are chained because zeromq.js
 * allows one pending send per socket.
 */
export class RawClient {
  readonly #dealer: Dealer;
  readonly #waiters = new ReplyWaiters<Buffer[]>();
  #sending: Promise<void> = Promise.resolve();
  readonly #loop: Promise<void>;
  /** Messages received that nobody waited for (signal fan-out). */
  unsolicited = 0;

  constructor(endpoint: string) {
    this.#dealer = new Dealer({ linger: 0, sendHighWaterMark: 100_000, receiveHighWaterMark: 100_000, maxMessageSize: -1 });
    this.#dealer.connect(endpoint);
    const dealer = this.#dealer;
    this.#loop = (async () => {
      try {
        for await (const frames of dealer) {
          if (frames[0]!.toString() === "t") this.unsolicited++;
          else this.#waiters.answer(frames);
        }
      } catch {
        // closed
      }
    })();
  }

  send(frames: (Buffer | string)[]): Promise<void> {
    this.#sending = this.#sending.then(() => this.#dealer.send(frames));
    return this.#sending;
  }

  request(frames: (Buffer | string)[]): Promise<Buffer[]> {
    const reply = this.#waiters.next();
    void this.send(frames);
    return reply;
  }

  async cpu(): Promise<NodeJS.CpuUsage> {
    const [, usage] = await this.request(["c"]);
    return JSON.parse(usage!.toString()) as NodeJS.CpuUsage;
  }

  async close(): Promise<void> {
    this.#dealer.close();
    await this.#loop;
  }
}
