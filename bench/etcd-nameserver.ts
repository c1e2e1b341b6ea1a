/**
 * Child process of bench/etcd-benchmarks.ts: `etcd-nameserver.js <storage spec>`. A
 * nameserver on 127.0.0.1 (free port, no broadcast) with that storage; prints
 * `{"ns":"127.0.0.1:<port>"}` once it serves, and closes when stdin ends.
 */
import { startNameServer } from "../src/index.js";

const storage = process.argv[2];
if (!storage) {
  process.stderr.write("usage: etcd-nameserver.js <storage spec>\n");
  process.exit(2);
}
const ns = await startNameServer({ host: "127.0.0.1", port: 0, broadcast: false, storage });
process.stdout.write(`${JSON.stringify({ ns: ns.uri.split("@")[1] })}\n`);
process.stdin.resume();
process.stdin.once("end", () => {
  // Closing revokes the lease of its etcd names; the parent kills it if this takes over 3 s.
  void ns.close().finally(() => process.exit(0));
});
