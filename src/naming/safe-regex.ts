import { setFlagsFromString } from "node:v8";
import { NamingError } from "../errors.js";

// V8's linear-time regexp engine (the `l` flag): matching can never backtrack
// catastrophically, so a regex sent by any client cannot stall the nameserver.
setFlagsFromString("--enable-experimental-regexp-engine");

export const MAX_REGEX_LENGTH = 512;

/**
 * Compiles a name pattern for linear-time matching, anchored at the start of the name
 * (as Pyro's `re.match`). Patterns the linear engine cannot run (backreferences,
 * lookarounds) or that are too long are rejected with NamingError.
 */
export function compileNameRegex(pattern: string): RegExp {
  if (typeof pattern !== "string") throw new NamingError("regex must be a string");
  if (pattern.length > MAX_REGEX_LENGTH) throw new NamingError(`regex is longer than ${MAX_REGEX_LENGTH} characters`);
  try {
    // Compiled alone first, so a pattern like "x)|(?:y" cannot escape the anchoring group.
    new RegExp(pattern, "l");
    return new RegExp(`^(?:${pattern})`, "l");
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: /, "") : String(error);
    throw new NamingError(`invalid regex ${JSON.stringify(pattern)}: ${reason}`);
  }
}
