/**
 * Serves a Laser as "lab.laser" in the nameserver:
 *   node dist/examples/laser/server.js [--ns host:port] [--port N]
 * The nameserver is --ns, else PYRO_TS_NS, else found on this host or by broadcast.
 */
import { parseArgs } from "node:util";
import { serve } from "pyro-ts";
import { Laser } from "./laser.js";

const { values } = parseArgs({ options: { ns: { type: "string" }, port: { type: "string", default: "0" } } });
const daemon = await serve(
  { "lab.laser": new Laser() },
  { host: "127.0.0.1", port: Number(values.port), metadata: { "lab.laser": ["laser", "1550nm"] }, ...(values.ns && { ns: values.ns }) },
);
console.log(`lab.laser served at ${daemon.uriFor("lab.laser")} (Ctrl-C to stop)`);

const stop = async (): Promise<void> => {
  await daemon.close();
  console.log("daemon closed, lab.laser removed from the nameserver");
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
