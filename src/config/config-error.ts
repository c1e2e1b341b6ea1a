import { PyroError } from "../errors.js";

/** A configuration file or option is wrong; the message names the file and line. */
export class ConfigError extends PyroError {
  override name = "ConfigError";
}
