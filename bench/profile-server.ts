/**
 * Child process for bench/profile.ts: a daemon serving BenchObject over one transport
 * (argv[2]: tcp or zmq), which profiles itself on request. Prints one JSON line ({ uri }),
 * then takes lines on stdin: "start <interval µs>" starts V8's CPU profiler and answers
 * "started"; "stop <file>" writes the profile to <file> and answers "stopped". stdin's end
 * closes the daemon.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createInterface } from "node:readline";
import { Daemon } from "../src/index.js";
import { BenchObject } from "./bench-object.js";

const transport = (process.argv[2] ?? "tcp") as "tcp" | "zmq";
const daemon = new Daemon({ transport, host: "127.0.0.1", port: 0, maxMessageSize: 128 * 1024 * 1024, maxQueuedEvents: 1_000_000 });
await daemon.start();
const uri = daemon.register(new BenchObject(), "bench");
const session = new Session();
session.connect();
process.stdout.write(`${JSON.stringify({ uri })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const [command, argument] = line.split(" ");
  if (command === "start") {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: Number(argument) });
    await session.post("Profiler.start");
    process.stdout.write("started\n");
  } else if (command === "stop") {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(argument!, JSON.stringify(profile));
    process.stdout.write("stopped\n");
  }
}
session.disconnect();
await daemon.close();
