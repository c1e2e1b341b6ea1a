import { NamingError } from "../errors.js";
import { connect as connectUri } from "../proxy/connect.js";
import { validTimeout } from "../proxy/proxy.js";
import type { Remote } from "../proxy/remote.js";
import { formatLocation, formatUri, toUri, type PyroUri } from "../uri.js";
import { locateNs, type LocateOptions } from "./locate.js";
import { validateName } from "../names.js";
import { parseQualified } from "../federation/name-record.js";
import type { NameServer } from "./nameserver.js";

export interface LookupOptions extends LocateOptions {
  /** Wait this long (ms) for the name to be registered, instead of failing at once. */
  readonly wait?: number;
}

/** Runs `use` with a proxy to the nameserver (found per `options`), closing it afterwards. */
export async function withNameServer<R>(options: LocateOptions, use: (ns: Remote<NameServer>) => Promise<R>): Promise<R> {
  const ns = await locateNs(options);
  try {
    return await use(ns);
  } finally {
    await ns.$close();
  }
}

/** Looks a name up, waiting up to `wait` ms for it to appear (told by the `registered` signal, no polling). */
async function lookupUri(ns: Remote<NameServer>, name: string, wait: number | undefined): Promise<string> {
  if (!wait) return (await ns.lookup(name)) as string;
  validTimeout(wait);
  let appeared!: () => void;
  const registered = new Promise<void>((resolve) => (appeared = resolve));
  const off = await ns.registered.connect((registeredName) => {
    if (registeredName === name) appeared();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    try {
      return (await ns.lookup(name)) as string;
    } catch (error) {
      if (!(error instanceof NamingError)) throw error;
    }
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), wait)));
    if ((await Promise.race([registered, timedOut])) === "timeout") {
      throw new NamingError(`${JSON.stringify(name)} was not registered within ${wait} ms`);
    }
    return (await ns.lookup(name)) as string;
  } finally {
    clearTimeout(timer);
    await off();
  }
}

function nsOptions(uri: PyroUri, options: LookupOptions): LookupOptions {
  return uri.location ? { ...options, ns: formatLocation(uri.location) } : options;
}

/** Turns PYRONAME and PYROMETA URIs into the PYRO URI of an object, asking the nameserver. */
export async function resolve(uri: string | PyroUri, options: LookupOptions = {}): Promise<string> {
  const parsed = toUri(uri);
  switch (parsed.protocol) {
    case "PYRO":
      return typeof uri === "string" ? uri : formatUri(parsed);
    case "PYRONAME":
      return withNameServer(nsOptions(parsed, options), (ns) => lookupUri(ns, parsed.object, options.wait));
    case "PYROMETA":
      return withNameServer(nsOptions(parsed, options), async (ns) => {
        const found = Object.values((await ns.list({ metadataAll: parsed.object.split(",") })) as Record<string, string>);
        if (found.length === 0) throw new NamingError(`no registration carries all of ${parsed.object}`);
        // Any of them will do; spread the load like Pyro does.
        return found[Math.floor(Math.random() * found.length)]!;
      });
  }
}

/**
 * Finds `name` (or a federation's qualified `name,<origin hex>`) through the nameserver and
 * connects to it. The proxy follows the name: see `connect`.
 */
export async function lookup<T>(name: string, options: LookupOptions = {}): Promise<Remote<T>> {
  if (!parseQualified(name)) validateName(name);
  return connect<T>(`PYRONAME:${name}`, options);
}

/**
 * Connects to a remote object and returns its typed proxy. Accepts PYRO URIs, and
 * PYRONAME/PYROMETA URIs, which are resolved through the nameserver first.
 *
 * A PYRONAME or PYROMETA proxy follows its name: when its daemon's connection is lost it
 * resolves the URI again with the same options (so a list of nameservers fails over), and
 * moves if the name now points elsewhere. A PYROMETA proxy may so move to another object
 * carrying the same tags, which is what such a URI asks for. A PYRO proxy stays where it is.
 */
export async function connect<T>(uri: string | PyroUri, options: LookupOptions = {}): Promise<Remote<T>> {
  const parsed = toUri(uri);
  const found = await resolve(uri, options);
  if (parsed.protocol === "PYRO") return connectUri<T>(found, options);
  // No `wait` here: a name that is gone fails this attempt, asked again on the next call.
  const again: LookupOptions = { ...options, wait: undefined };
  return connectUri<T>(found, options, () => resolve(parsed, again));
}
