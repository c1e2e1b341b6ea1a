/**
 * Run on a lab host by bench/replication-hosts.ts: `hosts-watcher.js <ns host:port> <peers>`.
 * Subscribes to `registered` on that host's nameserver, prints `ready` once its table lists
 * <peers> members alive, then `<Date.now()> <name>` per registration. The time is taken in
 * the event handler, so pipe delays to the bench do not count. Ends when stdin closes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { locateNs } from "../src/index.js";

const [nsAddress, peersArg] = process.argv.slice(2);
const expected = Number(peersArg);
if (!nsAddress || !Number.isInteger(expected) || expected < 1) {
  process.stderr.write("usage: hosts-watcher.js <ns host:port> <peers>\n");
  process.exit(2);
}

const ns = await locateNs({ ns: nsAddress });
await ns.registered.connect((name) => {
  process.stdout.write(`${Date.now()} ${name}\n`);
});
// Readiness by the library rather than `ns peers` CLI runs: ten node processes per probe on 2 cores would slow everything.
for (;;) {
  const rows = await ns.peers();
  if (rows.filter((r) => r.state === "alive").length >= expected) break;
  await sleep(100);
}
process.stdout.write("ready\n");
// The bench ends it by closing stdin (or the lab kills it).
process.stdin.resume();
process.stdin.once("end", () => {
  void ns.$close().finally(() => process.exit(0));
});
