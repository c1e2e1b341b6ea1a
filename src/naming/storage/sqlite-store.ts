import type Database from "better-sqlite3";
import { createRequire } from "node:module";
import { NamingError } from "../../errors.js";
import type { NameQuery, LocalNameStorage, Registration } from "./name-storage.js";

interface Row {
  readonly name: string;
  readonly uri: string;
  readonly tags: string;
}

const SELECT = `SELECT r.name, r.uri,
  (SELECT json_group_array(tag) FROM (SELECT tag FROM tags t WHERE t.name = r.name ORDER BY tag)) AS tags
  FROM registrations r`;

// The native module is loaded when a store is opened: a process that keeps its names
// elsewhere (memory, etcd) never loads it.
let loaded: typeof Database | undefined;
function sqlite(): typeof Database {
  loaded ??= createRequire(import.meta.url)("better-sqlite3") as typeof Database;
  return loaded;
}

/**
 * Registrations in an SQLite file (better-sqlite3, WAL journal). Names are the primary
 * key, so prefix queries are index range scans; tags live in their own table, indexed by
 * tag. Every write is committed before it is acknowledged, so it survives a crash of the
 * nameserver process (synchronous=NORMAL: a power loss may lose the last commits).
 */
export class SqliteStore implements LocalNameStorage {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string], Row>;
  readonly #exists: Database.Statement<[string], { one: number }>;
  readonly #insert: Database.Statement<[string, string]>;
  readonly #upsert: Database.Statement<[string, string]>;
  readonly #clearTags: Database.Statement<[string]>;
  readonly #addTag: Database.Statement<[string, string]>;
  readonly #delete: Database.Statement<[string]>;
  readonly #count: Database.Statement<[], { n: number }>;
  /** The pattern of the regex query being run, read by the SQL function. */
  #regex: RegExp | undefined;

  constructor(path: string) {
    try {
      this.#db = new (sqlite())(path);
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma("synchronous = NORMAL");
      this.#db.pragma("foreign_keys = ON");
      this.#db.exec(`
        CREATE TABLE IF NOT EXISTS registrations (name TEXT PRIMARY KEY, uri TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS tags (
          name TEXT NOT NULL REFERENCES registrations(name) ON DELETE CASCADE,
          tag TEXT NOT NULL,
          PRIMARY KEY (name, tag)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS tags_by_tag ON tags (tag, name);
      `);
    } catch (error) {
      throw new NamingError(`cannot open sqlite name store ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    this.#db.function("pyro_regex", { deterministic: true }, (name: unknown) => (this.#regex?.test(String(name)) ? 1 : 0));
    const db = this.#db;
    this.#get = db.prepare(`${SELECT} WHERE r.name = ?`);
    this.#exists = db.prepare(`SELECT 1 AS one FROM registrations WHERE name = ?`);
    this.#insert = db.prepare(`INSERT INTO registrations (name, uri) VALUES (?, ?)`);
    this.#upsert = db.prepare(`INSERT INTO registrations (name, uri) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET uri = excluded.uri`);
    this.#clearTags = db.prepare(`DELETE FROM tags WHERE name = ?`);
    this.#addTag = db.prepare(`INSERT OR IGNORE INTO tags (name, tag) VALUES (?, ?)`);
    this.#delete = db.prepare(`DELETE FROM registrations WHERE name = ?`);
    this.#count = db.prepare(`SELECT COUNT(*) AS n FROM registrations`);
  }

  get(name: string): Registration | undefined {
    const row = this.#get.get(name);
    return row && toRegistration(row);
  }

  put(registration: Registration): void {
    this.#db.transaction(() => {
      this.#upsert.run(registration.name, registration.uri);
      this.#writeTags(registration.name, registration.metadata);
    })();
  }

  putIfAbsent(registration: Registration): boolean {
    return this.#db.transaction(() => {
      if (this.#exists.get(registration.name)) return false;
      this.#insert.run(registration.name, registration.uri);
      this.#writeTags(registration.name, registration.metadata);
      return true;
    })();
  }

  setMetadata(name: string, metadata: readonly string[]): boolean {
    return this.#db.transaction(() => {
      if (!this.#exists.get(name)) return false;
      this.#writeTags(name, metadata);
      return true;
    })();
  }

  remove(names: readonly string[]): Registration[] {
    return this.#db.transaction(() => {
      const removed: Registration[] = [];
      for (const name of names) {
        const registration = this.get(name);
        if (!registration) continue;
        this.#delete.run(name);
        removed.push(registration);
      }
      return removed;
    })();
  }

  list(query: NameQuery): Registration[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.prefix) {
      // A range on the primary key: an index scan, unlike LIKE.
      const end = prefixSuccessor(query.prefix);
      where.push(end === undefined ? "r.name >= ?" : "r.name >= ? AND r.name < ?");
      params.push(query.prefix, ...(end === undefined ? [] : [end]));
    }
    if (query.metadataAll?.length) {
      const tags = [...new Set(query.metadataAll)];
      where.push(`r.name IN (SELECT name FROM tags WHERE tag IN (${tags.map(() => "?").join(",")}) GROUP BY name HAVING COUNT(*) = ?)`);
      params.push(...tags, tags.length);
    }
    if (query.metadataAny?.length) {
      where.push(`r.name IN (SELECT name FROM tags WHERE tag IN (${query.metadataAny.map(() => "?").join(",")}))`);
      params.push(...query.metadataAny);
    }
    if (query.regex) where.push("pyro_regex(r.name)");
    const sql = `${SELECT}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY r.name`;
    this.#regex = query.regex;
    try {
      return this.#db.prepare<(string | number)[], Row>(sql).all(...params).map(toRegistration);
    } finally {
      this.#regex = undefined;
    }
  }

  count(): number {
    return this.#count.get()!.n;
  }

  close(): void {
    this.#db.close();
  }

  #writeTags(name: string, tags: readonly string[]): void {
    this.#clearTags.run(name);
    for (const tag of tags) this.#addTag.run(name, tag);
  }
}

/**
 * The smallest string above every string that starts with `prefix`, in code point order
 * (SQLite's BINARY order on UTF-8): the prefix with its last code point incremented.
 */
function prefixSuccessor(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) return points.join("") + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

function toRegistration(row: Row): Registration {
  return { name: row.name, uri: row.uri, metadata: JSON.parse(row.tags) as string[] };
}
