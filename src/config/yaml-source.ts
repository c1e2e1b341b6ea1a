import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import type { LineCounter, Node, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { ConfigError } from "./config-error.js";

/**
 * The yaml package (about 70 modules) is loaded when a config file is first read, not by every
 * program that imports pyro-ts: startup and heap stay smaller for clients and daemons without one.
 */
let loaded: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)("yaml") as typeof Yaml);
}

/** A parsed YAML file that can tell where each node came from. */
export class YamlSource {
  readonly file: string;
  readonly root: Node | null;
  readonly #lines: LineCounter;

  private constructor(file: string, root: Node | null, lines: LineCounter) {
    this.file = file;
    this.root = root;
    this.#lines = lines;
  }

  static read(file: string): YamlSource {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new ConfigError(`cannot read config file ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return YamlSource.parse(text, file);
  }

  static parse(text: string, file: string): YamlSource {
    const { LineCounter, parseDocument } = yaml();
    const lines = new LineCounter();
    const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const problem = document.errors[0];
    if (problem) {
      const line = lines.linePos(problem.pos[0]).line;
      throw new ConfigError(`${file}${line ? `:${line}` : ""}: invalid YAML: ${problem.message.split("\n")[0]}`);
    }
    return new YamlSource(file, (document.contents as Node | null) ?? null, lines);
  }

  /** `file:line` of a node, for messages. */
  where(node: Node | Pair | null | undefined): string {
    const target = node && "range" in node ? node : (node as Pair | undefined)?.key;
    const offset = (target as Node | undefined)?.range?.[0];
    return offset === undefined ? this.file : `${this.file}:${this.#lines.linePos(offset).line}`;
  }

  error(node: Node | Pair | null | undefined, message: string): ConfigError {
    return new ConfigError(`${this.where(node)}: ${message}`);
  }
}

export function isMap(node: unknown): node is YAMLMap {
  return yaml().isMap(node);
}

export function isScalar(node: unknown): node is Scalar {
  return yaml().isScalar(node);
}

export function isSeq(node: unknown): node is YAMLSeq {
  return yaml().isSeq(node);
}

export type { Node, Pair };
