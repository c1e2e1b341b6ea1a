/** Serves a Laser: `node dist/examples/laser/server.js [port]` (default 4711). */
import { Daemon } from "pyro-ts";
import { Laser } from "./laser.js";

const port = Number(process.argv[2] ?? 4711);
const daemon = new Daemon({ host: "127.0.0.1", port });
const uri = daemon.register(new Laser(), "laser");
await daemon.start();
console.log(`laser served at ${uri} (Ctrl-C to stop)`);

const stop = async (): Promise<void> => {
  await daemon.close();
  console.log("daemon closed");
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
