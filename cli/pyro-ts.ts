#!/usr/bin/env node
import { CommanderError } from "commander";
import { ConfigError } from "../src/config/config-error.js";
import { describeError, EXIT_ERROR, EXIT_USAGE, UsageError } from "./output.js";
import { program } from "./program.js";

const cli = program();
// Every command and subcommand reports usage errors with exit code 2 instead of exiting itself.
const exitOverride = (command: typeof cli): void => {
  command.exitOverride();
  for (const sub of command.commands) exitOverride(sub);
};
exitOverride(cli);

try {
  await cli.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version "errors" are normal exits; commander already printed the message.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.stderr.write(`pyro-ts: ${describeError(error)}\n`);
    process.exitCode = error instanceof UsageError || error instanceof ConfigError ? EXIT_USAGE : EXIT_ERROR;
  }
}
