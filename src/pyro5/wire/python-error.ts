export interface PythonExceptionInfo {
  /** "builtins.ValueError" */
  readonly pythonType: string;
  readonly args: readonly unknown[];
  /** The Python traceback text (the joined `_pyroTraceback` lines). */
  readonly traceback?: string;
  /** `vars(exc)` without `_pyroTraceback`. */
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** A Python exception, raised by a Pyro5 peer, as a pyro-ts RemoteError on the TypeScript side. */
import { RemoteError } from "../../errors.js";

export class PythonError extends RemoteError {
  /** The full Python class name, "builtins.ValueError", "Pyro5.errors.NamingError", "__main__.MyError". */
  readonly pythonType: string;
  /** The exception's args as Python had them (`ValueError("not homed")` → ["not homed"]). */
  readonly args: readonly unknown[];
  /** The exception's other attributes (`vars(exc)` without `_pyroTraceback`). */
  readonly attributes: Readonly<Record<string, unknown>>;

  /** `name` is the short class name ("ValueError"), `remoteStack` the Python traceback text. */
  constructor(info: PythonExceptionInfo, options?: ErrorOptions) {
    super(shortName(info.pythonType), pythonMessage(info), info.traceback, options);
    this.pythonType = info.pythonType;
    this.args = info.args;
    this.attributes = info.attributes;
  }

  static fromInfo(info: PythonExceptionInfo): PythonError {
    return new PythonError(info);
  }

  /** What a Python peer needs to raise this exception again. */
  get info(): PythonExceptionInfo {
    const info = { pythonType: this.pythonType, args: this.args, attributes: this.attributes };
    return this.remoteStack === undefined ? info : { ...info, traceback: this.remoteStack };
  }
}

function shortName(pythonType: string): string {
  return pythonType.slice(pythonType.lastIndexOf(".") + 1) || pythonType;
}

/** What Python's str(exc) shows: nothing, the single argument, or the tuple of them. */
function pythonMessage(info: PythonExceptionInfo): string {
  const { args } = info;
  if (args.length === 0) return "";
  // KeyError is the one builtin whose str() is the repr of its argument.
  if (args.length === 1) return typeof args[0] === "string" && info.pythonType !== "builtins.KeyError" ? args[0] : pythonRepr(args[0]);
  return `(${args.map(pythonRepr).join(", ")})`;
}

/** A short Python-like repr, for messages only. */
function pythonRepr(value: unknown): string {
  switch (typeof value) {
    case "string": return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;
    case "boolean": return value ? "True" : "False";
    case "number": return Number.isNaN(value) ? "nan" : Number.isFinite(value) ? String(value) : value > 0 ? "inf" : "-inf";
    case "bigint": return value.toString();
    case "object":
      if (value === null) return "None";
      if (Array.isArray(value)) return `[${value.map(pythonRepr).join(", ")}]`;
      return `{${Object.entries(value).map(([key, item]) => `${pythonRepr(key)}: ${pythonRepr(item)}`).join(", ")}}`;
    default: return String(value);
  }
}
