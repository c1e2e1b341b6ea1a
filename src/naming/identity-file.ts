import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import type { FederationIdentity, IdentityKeeper } from "../federation/federation-identity.js";
import { isMemberId } from "../federation/member.js";

/**
 * Counters are reserved in blocks: the file says "nothing at or above this was used", and
 * is rewritten only when a block runs out, so a registration costs no extra disk write in
 * all but one of BLOCK cases. A restart continues from the reserved mark; the versions it
 * skips are never used, which replicas accept (the origin answers for its own gaps).
 */
const BLOCK = 1000;
const MAX_COUNTER = Number.MAX_SAFE_INTEGER - 2 * BLOCK;

interface Saved {
  readonly id: string;
  readonly incarnation: number;
  readonly version: number;
  readonly clock: number;
}

function counter(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= MAX_COUNTER;
}

function read(path: string): Saved | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const saved = JSON.parse(text) as Partial<Saved>;
  if (!isMemberId(saved.id) || !counter(saved.incarnation) || saved.incarnation > 0xffff_fffe || !counter(saved.version) || !counter(saved.clock)) {
    throw new Error(`${path} is not a federation identity file: remove it to start as a new nameserver`);
  }
  return saved as Saved;
}

/** Written whole to a temporary file, flushed, then renamed over the old one: a crash leaves one or the other. */
function write(path: string, saved: Saved): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w");
  try {
    writeSync(fd, JSON.stringify(saved));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/**
 * A federated nameserver's identity beside its file or sqlite storage (`<storage
 * path>.federation.json`): the same id after a restart, a higher incarnation (so peers
 * that held it dead see it alive again, and its names return), and versions and claims
 * that are never reused.
 */
export class IdentityFile implements IdentityKeeper {
  readonly #path: string;
  readonly #identity: FederationIdentity;
  #reserved: Saved;

  constructor(path: string) {
    this.#path = path;
    const saved = read(path);
    this.#identity = saved
      ? { id: saved.id, incarnation: saved.incarnation + 1, version: saved.version, clock: saved.clock }
      : { id: randomBytes(16).toString("hex"), incarnation: 0, version: 0, clock: 0 };
    this.#reserved = { ...this.#identity, version: this.#identity.version + BLOCK, clock: this.#identity.clock + BLOCK };
    write(path, this.#reserved);
  }

  /** The storage's identity file, for `file:` and `sqlite:` storage; none for memory. */
  static forStorage(spec: string): IdentityFile | undefined {
    const match = /^(?:file|sqlite):(.+)$/.exec(spec);
    return match ? new IdentityFile(`${match[1]}.federation.json`) : undefined;
  }

  identity(): FederationIdentity {
    return this.#identity;
  }

  reached(version: number, clock: number): void {
    if (version < this.#reserved.version && clock < this.#reserved.clock) return;
    this.#reserved = { ...this.#reserved, version: Math.max(version, this.#reserved.version) + BLOCK, clock: Math.max(clock, this.#reserved.clock) + BLOCK };
    write(this.#path, this.#reserved);
  }
}
