/**
 * Child process: a daemon serving StreamObject, for the streaming benchmarks. Runs with
 * --expose-gc so it can report the memory it retains. Prints one JSON line: its URI and
 * the stream window it grants.
 */
import { Daemon } from "../src/index.js";
import { StreamObject } from "./stream-object.js";

// The defaults, stated so that the report can name the window the memory figure is held to.
const window = 1024;
const windowBytes = 32 * 1024 * 1024;
const daemon = new Daemon({ host: "127.0.0.1", port: 0, streamWindow: window, streamWindowBytes: windowBytes });
const uri = daemon.register(new StreamObject(), "stream");
await daemon.start();
process.stdout.write(`${JSON.stringify({ uri, window, windowBytes, gc: typeof globalThis.gc === "function" })}\n`);
process.stdin.resume();
process.stdin.once("end", () => void daemon.close());
