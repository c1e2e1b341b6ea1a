/**
 * Finds "lab.laser" through the nameserver and drives it:
 *   node dist/examples/laser/client.js [--ns host:port]
 */
import { parseArgs } from "node:util";
import { lookup, RemoteError } from "pyro-ts";
import type { Laser } from "./laser.js";

const { values } = parseArgs({ options: { ns: { type: "string" } } });
const laser = await lookup<Laser>("lab.laser", { timeout: 5000, ...(values.ns && { ns: values.ns }) });
try {
  const off = await laser.powerChanged.connect((mw, at) => console.log(`signal powerChanged(${mw}, ${at.toISOString()})`));
  console.log("setPower(5) ->", await laser.setPower(5));
  console.log("power ->", await laser.power);
  await laser.$set("power", 7);
  console.log("power after $set ->", await laser.power);
  await laser.blink(3);
  console.log("blink(3) sent (oneway)");
  await laser.setPower(-1).catch((error: unknown) => {
    if (error instanceof RemoteError) console.log(`setPower(-1) -> remote ${error.name}: ${error.message}`);
    else throw error;
  });
  await off();
} finally {
  await laser.$close();
}
