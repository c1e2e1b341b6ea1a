/**
 * Child process: the raw zeromq.js baseline of the streaming benchmarks. A ROUTER that, asked
 * ["n", count] by a DEALER, sends it `count` small items, each encoded with JSON.stringify;
 * asked ["b", count, bytes], `count` messages of one Buffer of `bytes` bytes. Each as its own
 * message, as fast as zeromq.js takes them: one send at a time, awaited. `mandatory` makes a
 * full queue wait instead of dropping, so the reader receives every item.
 */
import { Router } from "zeromq";

const router = new Router({ linger: 0, mandatory: true, sendHighWaterMark: 100_000, receiveHighWaterMark: 100_000, maxMessageSize: -1 });
await router.bind("tcp://127.0.0.1:*");
process.stdout.write(`${JSON.stringify({ endpoint: router.lastEndpoint })}\n`);
process.stdin.resume();
process.stdin.once("end", () => router.close());

try {
  for await (const [peer, kind, ...rest] of router) {
    const count = Number(rest[0]!.toString());
    switch (kind!.toString()) {
      case "n":
        for (let i = 0; i < count; i++) await router.send([peer!, JSON.stringify({ seq: i, value: i * 0.25 })]);
        break;
      case "b": {
        const data = Buffer.alloc(Number(rest[1]!.toString()), 7);
        for (let i = 0; i < count; i++) await router.send([peer!, data]);
        break;
      }
    }
  }
} catch {
  // closed
}
