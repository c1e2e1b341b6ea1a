/**
 * Finding a Python Pyro5 nameserver as Pyro5's locate_ns() does: at the host given, else on
 * this host, else by the GET_NSURI broadcast; then looking names up in it.
 */
import { NamingError } from "../../errors.js";
import { DEFAULT_BROADCAST_PORT, DEFAULT_NS_PORT } from "../../names.js";
import { discoverNsUri } from "../../ns-broadcast.js";
import { connect, type Pyro5ConnectOptions } from "./connect.js";
import { Pyro5NameServer, type PythonNameServer } from "./pyro5-nameserver.js";
import type { Pyro5Remote } from "./pyro5-remote.js";

/** Object id of a Pyro5 nameserver (Python's, or what a Pyro5 nameserver registers itself as). */
export const PYRO5_NAMESERVER_ID = "Pyro.NameServer";

export interface Pyro5LocateOptions extends Pyro5ConnectOptions {
  /** The nameserver's host; when absent, this host then the broadcast are tried. */
  readonly host?: string;
  /** Its port. Default 9090 (Pyro5's NS_PORT). */
  readonly port?: number;
  /** Addresses to send GET_NSURI to, or false never to. Default 255.255.255.255. */
  readonly broadcast?: boolean | readonly string[];
  /** UDP port of the broadcast responder. Default 9091 (Pyro5's NS_BCPORT). */
  readonly bcport?: number;
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

async function tryConnect(uri: string, options: Pyro5ConnectOptions): Promise<Pyro5NameServer | undefined> {
  try {
    return new Pyro5NameServer(await connect<PythonNameServer>(uri, options));
  } catch {
    return undefined;
  }
}

/** Connects to a Pyro5 nameserver; NamingError saying where it looked when none answers. */
export async function locateNs(options: Pyro5LocateOptions = {}): Promise<Pyro5NameServer> {
  const port = options.port ?? DEFAULT_NS_PORT;
  if (options.host !== undefined) {
    const uri = `PYRO:${PYRO5_NAMESERVER_ID}@${hostPort(options.host, port)}`;
    try {
      return new Pyro5NameServer(await connect<PythonNameServer>(uri, options));
    } catch (error) {
      throw new NamingError(`no Pyro5 nameserver answered at ${hostPort(options.host, port)}: ${(error as Error).message}`, { cause: error });
    }
  }
  const tried = [`localhost:${port}`];
  const local = await tryConnect(`PYRO:${PYRO5_NAMESERVER_ID}@localhost:${port}`, options);
  if (local) return local;
  const addresses = options.broadcast === false ? [] : Array.isArray(options.broadcast) ? options.broadcast : ["255.255.255.255"];
  const bcport = options.bcport ?? DEFAULT_BROADCAST_PORT;
  const found = await discoverNsUri(addresses, bcport, 2100);
  if (found !== undefined) {
    const ns = await tryConnect(found, options);
    if (ns) return ns;
    tried.push(`${found} (answered the broadcast)`);
  } else if (addresses.length > 0) {
    tried.push(`broadcast to ${addresses.join(", ")} port ${bcport}`);
  }
  throw new NamingError(`no Pyro5 nameserver found (tried ${tried.join("; ")})`);
}

/** Looks a name up in a Pyro5 nameserver (given, or located with `options`) and connects to its object. */
export async function lookup<T>(name: string, options: Pyro5LocateOptions & { readonly ns?: Pyro5NameServer } = {}): Promise<Pyro5Remote<T>> {
  const ns = options.ns ?? (await locateNs(options));
  try {
    return await connect<T>(await ns.lookup(name), options);
  } finally {
    if (!options.ns) await ns.close();
  }
}
