import type { Command } from "commander";
import { writeKeyFiles } from "../../src/index.js";

export function keygenCommand(program: Command): void {
  program
    .command("keygen")
    .description("create a CURVE key pair: <out>.key (secret, mode 0600) and <out>.pub (to hand out)")
    .requiredOption("--out <path>", "path and base name of the key files, e.g. ./keys/lab")
    .action((flags: { out: string }) => {
      const { secretFile, publicFile } = writeKeyFiles(flags.out);
      process.stdout.write(`wrote ${secretFile} (keep it private) and ${publicFile}\n`);
    });
}
