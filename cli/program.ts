import { createRequire } from "node:module";
import { Command } from "commander";
import { callCommand } from "./commands/call.js";
import { keygenCommand } from "./commands/keygen.js";
import { nameserverCommand } from "./commands/nameserver.js";
import { nsCommand } from "./commands/ns.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** The `pyro-ts` command line; commands are thin wrappers over the library. */
export function program(): Command {
  const cmd = new Command("pyro-ts")
    .description("Pyro-style remote objects for TypeScript: daemons, proxies and a nameserver over ZeroMQ")
    .version(version)
    .showHelpAfterError("(run with --help for usage)");
  nameserverCommand(cmd);
  nsCommand(cmd);
  callCommand(cmd);
  keygenCommand(cmd);
  return cmd;
}
