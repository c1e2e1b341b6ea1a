import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { curveKeyPair, Router } from "zeromq";
import { SecurityError } from "../errors.js";
import { Z85_KEY } from "../uri.js";

/** A CURVE key pair, both keys in Z85 (40 characters). */
export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** Z85 text of 32 bytes (a binary CURVE key, as ZAP hands it over). */
export function z85Encode(bytes: Uint8Array): string {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = "";
  for (let i = 0; i + 4 <= view.length; i += 4) {
    let value = view.readUInt32BE(i);
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85[value % 85]!);
      value = Math.floor(value / 85);
    }
    text += chunk.join("");
  }
  return text;
}

/**
 * Whether `key` is a CURVE key in Z85: 40 characters of its alphabet, and every 5-character
 * group worth less than 2^32 (one that is not decodes to nothing).
 */
export function isZ85Key(key: unknown): key is string {
  if (typeof key !== "string" || !Z85_KEY.test(key)) return false;
  for (let group = 0; group < key.length; group += 5) {
    let value = 0;
    for (let i = group; i < group + 5; i++) value = value * 85 + Z85.indexOf(key[i]!);
    if (value > 0xffffffff) return false;
  }
  return true;
}

/** Throws SecurityError unless `key` is a Z85 CURVE key. */
export function checkZ85Key(key: string, what: string): string {
  if (typeof key !== "string" || !Z85_KEY.test(key)) throw new SecurityError(`${what} is not a 40-character Z85 CURVE key`);
  return key;
}

/** A new key pair. */
export function generateKeyPair(): CurveKeyPair {
  return curveKeyPair();
}

function keyLine(text: string, name: string): string | undefined {
  return new RegExp(`^\\s*${name}\\s*=\\s*"([^"]{40})"`, "m").exec(text)?.[1];
}

/**
 * Writes `<base>.key` (both keys, mode 0600) and `<base>.pub` (the public key), in the
 * `name = "z85"` lines of ZeroMQ's certificate files.
 */
export function writeKeyFiles(base: string, pair: CurveKeyPair = generateKeyPair()): { secretFile: string; publicFile: string } {
  mkdirSync(dirname(base), { recursive: true });
  const secretFile = `${base}.key`;
  const publicFile = `${base}.pub`;
  writeFileSync(secretFile, `# pyro-ts CURVE secret key: keep it private\npublic-key = "${pair.publicKey}"\nsecret-key = "${pair.secretKey}"\n`, { mode: 0o600 });
  chmodSync(secretFile, 0o600);
  writeFileSync(publicFile, `# pyro-ts CURVE public key\npublic-key = "${pair.publicKey}"\n`);
  return { secretFile, publicFile };
}

function readKeyText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new SecurityError(`cannot read CURVE key file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Reads a `.key` file written by writeKeyFiles (or `pyro-ts keygen`). */
export function readSecretKeyFile(path: string): CurveKeyPair {
  const text = readKeyText(path);
  const publicKey = keyLine(text, "public-key");
  const secretKey = keyLine(text, "secret-key");
  if (!publicKey || !secretKey) throw new SecurityError(`${path} is not a CURVE secret key file (public-key and secret-key lines)`);
  return { publicKey: checkZ85Key(publicKey, `public-key in ${path}`), secretKey: checkZ85Key(secretKey, `secret-key in ${path}`) };
}

/** The public key of a `.pub` (or `.key`) file. */
export function readPublicKeyFile(path: string): string {
  const key = keyLine(readKeyText(path), "public-key");
  if (!key) throw new SecurityError(`${path} has no public-key line`);
  return checkZ85Key(key, `public-key in ${path}`);
}

/** Public keys (CURVE) and TLS fingerprints in a folder of `.pub` files, read again when the folder changes (checked at most once a second). */
export class AuthorizedKeys {
  readonly #folder: string;
  #keys = new Set<string>();
  #checkedAt = 0;
  #signature = "";

  constructor(folder: string) {
    this.#folder = folder;
    statSync(folder); // a missing folder is a configuration error, found at once
    this.#reload();
  }

  has(publicKey: string): boolean {
    if (Date.now() - this.#checkedAt > 1000) this.#reload();
    return this.#keys.has(publicKey);
  }

  #reload(): void {
    this.#checkedAt = Date.now();
    let files: string[];
    try {
      files = readdirSync(this.#folder).filter((f) => f.endsWith(".pub")).sort();
    } catch {
      this.#keys = new Set();
      return;
    }
    // A file that vanishes or cannot be read is skipped: it must not lock every client out.
    const mtime = (file: string): number => {
      try {
        return statSync(join(this.#folder, file)).mtimeMs;
      } catch {
        return -1;
      }
    };
    const signature = files.map((f) => `${f}:${mtime(f)}`).join("|");
    if (signature === this.#signature) return;
    this.#signature = signature;
    const keys = new Set<string>();
    for (const file of files) {
      try {
        const text = readFileSync(join(this.#folder, file), "utf8");
        const key = keyLine(text, "public-key");
        if (key && Z85_KEY.test(key)) keys.add(key);
        // The same files admit TLS clients, by their certificates' fingerprints.
        const fingerprint = /^\s*tls-fingerprint\s*=\s*"(sha256:[A-Za-z0-9_-]{43})"/m.exec(text)?.[1];
        if (fingerprint) keys.add(fingerprint);
      } catch {
        // skipped, see above
      }
    }
    this.#keys = keys;
  }
}

/** How long the ZAP handler's loop waits for a request before checking it is still needed. */
const IDLE_MS = 200;

/**
 * The ZAP handler of this process: libzmq asks it, on inproc://zeromq.zap.01, whether a
 * CURVE client may connect. One per process (per ZeroMQ context), shared by every daemon:
 * each registers a domain with its own rule.
 *
 * Its socket is bound once and kept: closing it when the last daemon went and binding anew
 * for the next raced libzmq's asynchronous unbind ("Address already in use"). What would
 * keep the process alive is a pending receive, so the loop receives with a timeout and
 * ends within IDLE_MS once no daemon needs it.
 */
class ZapHandler {
  readonly #domains = new Map<string, (clientKey: string) => boolean>();
  #router: Router | undefined;
  #serving = false;

  register(domain: string, allows: (clientKey: string) => boolean): void {
    this.#domains.set(domain, allows);
    if (!this.#router) {
      const router = new Router({ linger: 0, receiveTimeout: IDLE_MS });
      router.bindSync("inproc://zeromq.zap.01");
      this.#router = router;
    }
    this.#serve();
  }

  async unregister(domain: string): Promise<void> {
    this.#domains.delete(domain);
  }

  #serve(): void {
    if (this.#serving) return;
    this.#serving = true;
    void this.#loop(this.#router!).finally(() => {
      this.#serving = false;
      // A daemon registered while the loop was deciding to end: serve it.
      if (this.#domains.size > 0) this.#serve();
    });
  }

  async #loop(router: Router): Promise<void> {
    while (this.#domains.size > 0) {
      let request: Buffer[];
      try {
        request = await router.receive();
      } catch (error) {
        if ((error as { code?: string }).code === "EAGAIN") continue;
        return;
      }
      const [peer, empty, version, requestId, domain, , , mechanism, key] = request;
      let allowed = false;
      try {
        const rule = this.#domains.get(domain?.toString() ?? "");
        // Without a rule (no authorized folder) any client with a valid CURVE handshake may connect.
        allowed = mechanism?.toString() === "CURVE" && key !== undefined && (!rule || rule(z85Encode(key)));
      } catch {
        allowed = false;
      }
      try {
        await router.send([peer!, empty!, version ?? "1.0", requestId!, allowed ? "200" : "400", allowed ? "OK" : "client key not authorized", "", ""]);
      } catch {
        // the requesting socket is gone
      }
    }
  }
}

export const zapHandler = new ZapHandler();
