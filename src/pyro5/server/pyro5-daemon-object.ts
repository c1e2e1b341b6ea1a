/**
 * `Pyro.Daemon`, the object every Pyro5 daemon serves about itself, as a Python client expects
 * it: get_metadata (what a proxy asks when it did not get metadata on connect), ping,
 * registered, info, and the item-stream pulls. It is this front's own, per connection (its
 * streams are the connection's); pyro-ts's own daemon object stays reachable as `pyro-ts.Daemon`.
 */
import type { ObjectHost } from "../../daemon/object-host.js";
import { DaemonError, UnknownMemberError } from "../../errors.js";
import type { ItemStreams } from "./item-streams.js";
import { pyro5Meta, type Pyro5Meta } from "./pyro5-meta.js";
import { pythonException } from "./replies.js";

export const PYRO5_DAEMON_ID = "Pyro.Daemon";

const METHODS = ["close_stream", "get_metadata", "get_next_stream_item", "info", "ping", "registered"];
const DAEMON_META: Pyro5Meta = { methods: METHODS, oneway: [], attrs: [] };

/** Positional or keyword parameters of each method (Python calls them either way). */
const PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  close_stream: ["streamId"],
  get_metadata: ["objectId"],
  get_next_stream_item: ["streamId"],
  info: [],
  ping: [],
  registered: [],
};

function argumentsOf(method: string, params: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): unknown[] {
  const names = PARAMETERS[method]!;
  const args = [...params];
  for (const [name, value] of Object.entries(kwargs)) {
    const index = names.indexOf(name);
    if (index < 0) throw new TypeError(`${method}() got an unexpected keyword argument '${name}'`);
    if (index < args.length) throw new TypeError(`${method}() got multiple values for argument '${name}'`);
    args[index] = value;
  }
  if (args.length !== names.length || names.some((_, i) => !(i in args))) {
    throw new TypeError(`${method}() takes ${names.length} argument(s) (${names.join(", ") || "none"}), got ${args.length}`);
  }
  return args;
}

export class Pyro5DaemonObject {
  readonly #host: ObjectHost;
  readonly #peerId: string;
  readonly #streams: ItemStreams;
  readonly #describe: () => string;

  constructor(host: ObjectHost, peerId: string, streams: ItemStreams, describe: () => string) {
    this.#host = host;
    this.#peerId = peerId;
    this.#streams = streams;
    this.#describe = describe;
  }

  /** The Pyro5 metadata of `objectId` (DaemonError "unknown object" when none is registered). */
  metadata(objectId: unknown): Pyro5Meta {
    if (typeof objectId !== "string") throw new TypeError("objectId must be a string");
    if (objectId === PYRO5_DAEMON_ID) return DAEMON_META;
    return pyro5Meta(this.#host.shape(objectId, this.#peerId));
  }

  /** Runs one of its methods; an unknown one is an AttributeError as in Pyro5. */
  async call(method: string, params: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Promise<unknown> {
    if (!METHODS.includes(method)) throw new UnknownMemberError(`${JSON.stringify(PYRO5_DAEMON_ID)} has no exposed method ${JSON.stringify(method)}`);
    const args = argumentsOf(method, params, kwargs);
    switch (method) {
      case "get_metadata":
        return this.metadata(args[0]);
      case "ping":
        return null;
      case "registered":
        return [PYRO5_DAEMON_ID, ...this.#host.ids()];
      case "info":
        return this.#describe();
      case "get_next_stream_item": {
        const step = await this.#streams.next(args[0]);
        if (step.done) throw pythonException("builtins.StopIteration");
        return step.value;
      }
      default:
        this.#streams.close(args[0], new DaemonError("the client closed the stream"));
        return null;
    }
  }
}
