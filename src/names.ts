import { NamingError } from "./errors.js";

/** The nameserver's own name, and its object id in its daemon. */
export const NAMESERVER_NAME = "pyro-ts.NameServer";
export const DEFAULT_NS_PORT = 9090;
export const DEFAULT_BROADCAST_PORT = 9091;

const MAX_NAME_LENGTH = 256;
const MAX_TAGS = 64;
const MAX_TAG_LENGTH = 128;
const NAME_PATTERN = /^[^\s@/\\?#,]+$/;

/** Sorted, duplicate-free tags. */
export function normalizeTags(tags: Iterable<string>): string[] {
  return [...new Set(tags)].sort();
}

/** Checks a logical name (`lab.laser`); throws NamingError naming the problem. */
export function validateName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0) throw new NamingError("name must be a non-empty string");
  if (name.length > MAX_NAME_LENGTH) throw new NamingError(`name is longer than ${MAX_NAME_LENGTH} characters`);
  if (!NAME_PATTERN.test(name)) throw new NamingError(`name ${JSON.stringify(name)} contains whitespace or one of @ / \\ ? # ,`);
  // A name is also a key of the objects list() returns: these would be refused on the wire.
  if (name === "__proto__" || name === "constructor" || name === "prototype") throw new NamingError(`${JSON.stringify(name)} cannot be a name`);
  // Noncharacters are no names; storage prefix ranges use U+10FFFF as their upper bound.
  if (/[\uFFFE\uFFFF]|\u{10FFFF}/u.test(name)) throw new NamingError(`name ${JSON.stringify(name)} contains a Unicode noncharacter`);
  return name;
}

/** Checks and normalises a set of metadata tags. */
export function validateTags(tags: unknown): string[] {
  if (tags === undefined || tags === null) return [];
  const list: unknown[] = tags instanceof Set ? [...tags] : Array.isArray(tags) ? tags : [tags];
  if (list.length > MAX_TAGS) throw new NamingError(`at most ${MAX_TAGS} metadata tags are allowed`);
  for (const tag of list) {
    if (typeof tag !== "string" || tag.length === 0 || tag.length > MAX_TAG_LENGTH || tag.includes(",")) {
      throw new NamingError(`metadata tag ${JSON.stringify(tag)} must be a non-empty string of at most ${MAX_TAG_LENGTH} characters without commas`);
    }
  }
  return normalizeTags(list as string[]);
}

/** Parses `host:port`, `[v6]:port` or a bare host (default port 9090); throws NamingError. */
export function parseHostPort(text: string, defaultPort = DEFAULT_NS_PORT): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
  if (!match || port < 1 || port > 65535) throw new NamingError(`invalid nameserver address ${JSON.stringify(text)}: expected host:port`);
  return { host: match[1] ?? match[2]!, port };
}
