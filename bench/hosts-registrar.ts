/**
 * Run on a lab host by bench/replication-hosts.ts:
 * `hosts-registrar.js <own ns host:port> <other ns host:port> <names> <pace ms> <lookups> <uri host>`.
 * First the baseline: `lookups` sequential lookups of the nameserver's own name on the other
 * host's nameserver, printed as `lookup <ms>` each (a cross-host round trip). Then `names`
 * registrations on its own nameserver, one every `pace` ms, printing `register <Date.now()> <name>`
 * just before each call; `done` at the end.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { locateNs, NAMESERVER_NAME } from "../src/index.js";

const [own, other, namesArg, paceArg, lookupsArg, uriHost] = process.argv.slice(2);
const names = Number(namesArg);
const pace = Number(paceArg);
const lookups = Number(lookupsArg);
if (!own || !other || !uriHost || ![names, pace, lookups].every((n) => Number.isInteger(n) && n >= 0)) {
  process.stderr.write("usage: hosts-registrar.js <own ns> <other ns> <names> <pace ms> <lookups> <uri host>\n");
  process.exit(2);
}

const remote = await locateNs({ ns: other });
// The first call opens the connection: not a round trip of the steady state.
await remote.lookup(NAMESERVER_NAME);
const lines: string[] = [];
for (let i = 0; i < lookups; i++) {
  const start = performance.now();
  await remote.lookup(NAMESERVER_NAME);
  lines.push(`lookup ${performance.now() - start}`);
}
await remote.$close();
process.stdout.write(`${lines.join("\n")}\n`);

const ns = await locateNs({ ns: own });
const first = performance.now();
for (let i = 0; i < names; i++) {
  // On a schedule, not after each answer: a slow answer does not stretch the pace.
  const wait = first + i * pace - performance.now();
  if (wait > 0) await sleep(wait);
  const name = `lab.bench${i}`;
  process.stdout.write(`register ${Date.now()} ${name}\n`);
  await ns.register(name, `PYRO:obj${i}@${uriHost}:1234`);
}
await ns.$close();
process.stdout.write("done\n");
