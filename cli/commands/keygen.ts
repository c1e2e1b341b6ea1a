import type { Command } from "commander";
import { addTlsIdentity, writeKeyFiles } from "../../src/index.js";

export function keygenCommand(program: Command): void {
  program
    .command("keygen")
    .description("create a key pair for CURVE (ZeroMQ) and a TLS identity (TCP): <out>.key (secret, mode 0600) and <out>.pub (to hand out)")
    .requiredOption("--out <path>", "path and base name of the key files, e.g. ./keys/lab")
    .action(async (flags: { out: string }) => {
      const { secretFile, publicFile } = writeKeyFiles(flags.out);
      const fingerprint = await addTlsIdentity(secretFile, publicFile);
      process.stdout.write(`wrote ${secretFile} (keep it private) and ${publicFile} (TLS fingerprint ${fingerprint})\n`);
    });
}
