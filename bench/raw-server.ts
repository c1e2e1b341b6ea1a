/**
 * Child process: the raw zeromq.js baseline. A ROUTER that answers by the first frame:
 * "e" echo the frames, "a" reply the payload's length, "o" count without reply, "b" reply the count, "c" reply cpuUsage,
 * "s" subscribe this peer, "f" + n: send n messages to every subscriber.
 */
import { Router } from "zeromq";

const router = new Router({ linger: 0, sendHighWaterMark: 100_000, receiveHighWaterMark: 100_000, maxMessageSize: -1 });
await router.bind("tcp://127.0.0.1:*");
process.stdout.write(`${JSON.stringify({ endpoint: router.lastEndpoint })}\n`);
process.stdin.resume();
process.stdin.once("end", () => router.close());

let received = 0;
const subscribers: Buffer[] = [];
try {
  for await (const [peer, kind, ...rest] of router) {
    switch (kind!.toString()) {
      case "e":
        await router.send([peer!, kind!, ...rest]);
        break;
      case "a":
        await router.send([peer!, kind!, String(rest[0]?.length ?? 0)]);
        break;
      case "o":
        received++;
        break;
      case "b":
        await router.send([peer!, kind!, String(received)]);
        break;
      case "c":
        await router.send([peer!, kind!, JSON.stringify(process.cpuUsage())]);
        break;
      case "s":
        subscribers.push(peer!);
        await router.send([peer!, kind!]);
        break;
      case "f": {
        const n = Number(rest[0]!.toString());
        for (let i = 0; i < n; i++) for (const s of subscribers) await router.send([s, "t", String(i)]);
        break;
      }
    }
  }
} catch {
  // closed
}
