/** Child process: sequential calls for a while, then prints how many. Args: raw|pyro target ms payload. */
import { connect } from "../src/index.js";
import type { BenchObject } from "./bench-object.js";
import { RawClient } from "./raw-client.js";

const [mode, target, msText, payload = "x"] = process.argv.slice(2) as [string, string, string, string?];
const until = Date.now() + Number(msText);
let calls = 0;
if (mode === "raw") {
  const client = new RawClient(target);
  await client.request(["e", payload]);
  while (Date.now() < until) {
    await client.request(["e", payload]);
    calls++;
  }
  await client.close();
} else {
  const proxy = await connect<BenchObject>(target);
  while (Date.now() < until) {
    await proxy.echo(payload);
    calls++;
  }
  await proxy.$close();
}
process.stdout.write(`${JSON.stringify({ calls })}\n`);
