import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, ftruncateSync } from "node:fs";
import { dirname } from "node:path";
import { NamingError } from "../../errors.js";
import { MemoryStore } from "./memory-store.js";
import type { NameQuery, LocalNameStorage, Registration } from "./name-storage.js";

type JournalEntry =
  | { readonly op: "put"; readonly r: Registration }
  | { readonly op: "del"; readonly n: readonly string[] }
  | { readonly op: "meta"; readonly n: string; readonly m: readonly string[] };

/**
 * Registrations in a journal file: every change is appended as one JSON line before it
 * is acknowledged, so a crash of the nameserver loses nothing acknowledged; a torn last
 * line (a crash mid-write) is discarded on open. When the journal has grown to several
 * times the live data it is compacted into a new file, written aside and renamed over the
 * old one (atomic). Queries are answered from an in-memory index.
 */
export class FileStore implements LocalNameStorage {
  readonly #path: string;
  readonly #index = new MemoryStore();
  #fd: number;
  #entries = 0;

  constructor(path: string) {
    this.#path = path;
    if (existsSync(path)) this.#replay();
    this.#fd = openSync(path, "a");
  }

  get(name: string): Registration | undefined {
    return this.#index.get(name);
  }

  put(registration: Registration): void {
    this.#append({ op: "put", r: registration });
    this.#index.put(registration);
    this.#compactIfLarge();
  }

  putIfAbsent(registration: Registration): boolean {
    if (this.#index.get(registration.name)) return false;
    this.put(registration);
    return true;
  }

  setMetadata(name: string, metadata: readonly string[]): boolean {
    if (!this.#index.get(name)) return false;
    this.#append({ op: "meta", n: name, m: metadata });
    this.#index.setMetadata(name, metadata);
    this.#compactIfLarge();
    return true;
  }

  remove(names: readonly string[]): Registration[] {
    const present = names.filter((name) => this.#index.get(name));
    if (present.length === 0) return [];
    this.#append({ op: "del", n: present });
    const removed = this.#index.remove(present);
    this.#compactIfLarge();
    return removed;
  }

  list(query: NameQuery): Registration[] {
    return this.#index.list(query);
  }

  count(): number {
    return this.#index.count();
  }

  close(): void {
    closeSync(this.#fd);
  }

  #append(entry: JournalEntry): void {
    writeSync(this.#fd, `${JSON.stringify(entry)}\n`);
    this.#entries++;
  }

  /** Rewrites the journal when it holds several times more entries than live names (after the index changed). */
  #compactIfLarge(): void {
    if (this.#entries > 1000 && this.#entries > 4 * this.#index.count()) this.#compact();
  }

  #replay(): void {
    const text = readFileSync(this.#path, "utf8");
    const lines = text.split("\n");
    // The text after the last newline is a line whose write never completed.
    const complete = lines.length - 1;
    for (let i = 0; i < complete; i++) {
      const line = lines[i]!;
      if (line.trim() === "") continue;
      let entry: JournalEntry;
      try {
        entry = JSON.parse(line) as JournalEntry;
      } catch {
        throw new NamingError(`name store ${this.#path} is corrupt at line ${i + 1}`);
      }
      this.#apply(entry, i + 1);
      this.#entries++;
    }
    const tornBytes = Buffer.byteLength(lines[lines.length - 1] ?? "");
    if (tornBytes > 0) {
      const fd = openSync(this.#path, "r+");
      ftruncateSync(fd, Buffer.byteLength(text) - tornBytes);
      closeSync(fd);
    }
  }

  #apply(entry: JournalEntry, line: number): void {
    switch (entry?.op) {
      case "put":
        this.#index.put(entry.r);
        return;
      case "del":
        this.#index.remove(entry.n);
        return;
      case "meta":
        this.#index.setMetadata(entry.n, entry.m);
        return;
      default:
        throw new NamingError(`name store ${this.#path} has an unknown entry at line ${line}`);
    }
  }

  #compact(): void {
    const temporary = `${this.#path}.tmp`;
    const fd = openSync(temporary, "w");
    try {
      let chunk = "";
      for (const registration of this.#index.list({})) {
        chunk += `${JSON.stringify({ op: "put", r: registration })}\n`;
        if (chunk.length > 1 << 20) {
          writeSync(fd, chunk);
          chunk = "";
        }
      }
      writeSync(fd, chunk);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.#path);
    syncDirectory(dirname(this.#path));
    closeSync(this.#fd);
    this.#fd = openSync(this.#path, "a");
    this.#entries = this.#index.count();
  }
}

function syncDirectory(path: string): void {
  try {
    const fd = openSync(path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform can fsync a directory; the rename is still atomic.
  }
}
