/** Drives the laser: `node dist/examples/laser/client.js [uri]`. */
import { connect, RemoteError } from "pyro-ts";
import type { Laser } from "./laser.js";

const uri = process.argv[2] ?? "PYRO:laser@127.0.0.1:4711";
const laser = await connect<Laser>(uri, { timeout: 5000 });
try {
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
} finally {
  await laser.$close();
}
