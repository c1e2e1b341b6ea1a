/**
 * Child process: a daemon serving BenchObject over each transport (ZeroMQ, and TCP), one behind
 * CURVE, and a nameserver with one name. Prints one JSON line.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon, startNameServer, writeKeyFiles } from "../src/index.js";
import { BenchObject } from "./bench-object.js";

// 64 MiB Buffers plus their header need more than the default 64 MiB limit.
// A burst of emissions is queued whole rather than dropped, so fan-out counts every event.
const daemon = new Daemon({ host: "127.0.0.1", port: 0, maxMessageSize: 128 * 1024 * 1024, maxQueuedEvents: 1_000_000 });
const uri = daemon.register(new BenchObject(), "bench");
await daemon.start();
// The same object over the TCP transport (its port, hence its URI, is known once started).
const tcp = new Daemon({ transport: "tcp", host: "127.0.0.1", port: 0, maxMessageSize: 128 * 1024 * 1024, maxQueuedEvents: 1_000_000 });
await tcp.start();
const tcpUri = tcp.register(new BenchObject(), "bench");
// The same object behind CURVE, to measure what encryption costs.
const keys = writeKeyFiles(join(mkdtempSync(join(tmpdir(), "pyro-ts-bench-")), "bench"));
const secure = new Daemon({ host: "127.0.0.1", port: 0, curve: { secretKeyFile: keys.secretFile } });
const secureUri = secure.register(new BenchObject(), "bench");
await secure.start();
const ns = await startNameServer({ port: 0, broadcast: false });
ns.nameserver.register("bench.object", uri);
process.stdout.write(`${JSON.stringify({ uri, tcpUri, secureUri, ns: ns.uri.split("@")[1] })}\n`);
process.stdin.resume();
process.stdin.once("end", async () => {
  await ns.close();
  await secure.close();
  await tcp.close();
  await daemon.close();
});
