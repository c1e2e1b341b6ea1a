import { createRequire } from "node:module";
import { Command } from "commander";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** The `pyro-ts` command line; commands are thin wrappers over the library. */
export function program(): Command {
  const cmd = new Command("pyro-ts")
    .description("Pyro-style remote objects for TypeScript: daemons, proxies and a nameserver over ZeroMQ")
    .version(version);
  return cmd;
}
