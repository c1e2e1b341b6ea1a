import { NAMESERVER_NAME, validateName, validateTags } from "../names.js";
import { normalizePrefix } from "./etcd-spec.js";

/**
 * How a namespace is laid out in etcd: one key per registration,
 *
 *   <prefix>/names/<name>  →  {"uri":"PYRO:...","metadata":["tag",...],"origin":"<nameserver id>"}
 *
 * attached to the lease of the nameserver that wrote it. Everything read back is checked:
 * a key or value that is not a valid registration is reported (skipped), never trusted.
 */

/** A registration as stored in etcd, with the nameserver it was registered through. */
export interface EtcdRecord {
  readonly name: string;
  readonly uri: string;
  /** Sorted, without duplicates. */
  readonly metadata: readonly string[];
  /** The id of the nameserver that wrote it. */
  readonly origin: string;
}

/** Longest value accepted from etcd: far above any valid registration, far below what could hurt. */
const MAX_VALUE_BYTES = 64 * 1024;
const MAX_URI_LENGTH = 4096;
const ORIGIN = /^[A-Za-z0-9._-]{1,64}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export class EtcdLayout {
  /** `<prefix>/names/`: every registration key starts with it. */
  readonly namesKey: Buffer;
  /** The end of the names range: the first key after every key under `namesKey`. */
  readonly namesEnd: Buffer;

  constructor(prefix: string) {
    this.namesKey = Buffer.from(`${normalizePrefix(prefix)}/names/`);
    this.namesEnd = Buffer.from(this.namesKey);
    // The last byte is '/', so adding one never carries.
    this.namesEnd[this.namesEnd.length - 1]! += 1;
  }

  keyOf(name: string): Buffer {
    return Buffer.concat([this.namesKey, Buffer.from(name)]);
  }

  /** The registration a key and value hold, or why they hold none. */
  decode(key: Buffer, value: Buffer): EtcdRecord | { readonly invalid: string } {
    const name = this.nameOf(key);
    if (typeof name !== "string") return name;
    if (value.length > MAX_VALUE_BYTES) return { invalid: `${name}: value of ${value.length} bytes` };
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(value));
    } catch {
      return { invalid: `${name}: value is not JSON` };
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { invalid: `${name}: value is not an object` };
    const { uri, metadata, origin } = parsed as Record<string, unknown>;
    if (typeof uri !== "string" || !uri.startsWith("PYRO:") || uri.length > MAX_URI_LENGTH) return { invalid: `${name}: no PYRO: uri` };
    if (typeof origin !== "string" || !ORIGIN.test(origin)) return { invalid: `${name}: no valid origin` };
    if (!Array.isArray(metadata)) return { invalid: `${name}: metadata is not a list` };
    try {
      return { name, uri, metadata: validateTags(metadata), origin };
    } catch (error) {
      return { invalid: `${name}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  encode(record: EtcdRecord): Buffer {
    return Buffer.from(JSON.stringify({ uri: record.uri, metadata: record.metadata, origin: record.origin }));
  }

  /** The name a key holds, or why it holds none. */
  nameOf(key: Buffer): string | { readonly invalid: string } {
    if (key.length <= this.namesKey.length || !key.subarray(0, this.namesKey.length).equals(this.namesKey)) return { invalid: "key outside the names range" };
    let name: string;
    try {
      name = utf8.decode(key.subarray(this.namesKey.length));
    } catch {
      return { invalid: "key is not UTF-8" };
    }
    try {
      validateName(name);
    } catch (error) {
      return { invalid: error instanceof Error ? error.message : String(error) };
    }
    // Each nameserver keeps its own entry to itself: one in etcd is foreign.
    if (name === NAMESERVER_NAME) return { invalid: `${NAMESERVER_NAME} is never shared` };
    return name;
  }
}

/** Whether an origin id is one a layout accepts (a nameserver's id must be). */
export function isValidOrigin(origin: string): boolean {
  return ORIGIN.test(origin);
}
