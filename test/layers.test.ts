import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const src = resolve(dirname(fileURLToPath(import.meta.url)), "../src");
/** Layers below naming: they must never import it, or the daemon ⇄ naming loop comes back. */
const LOWER_LAYERS = ["daemon", "proxy", "transport", "protocol", "codec", "etcd", "global"];
const NAMING = join(src, "naming");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every module specifier of `import … from`, `export … from`, `import "…"` and `import("…")`. */
function specifiers(code: string): string[] {
  return [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((match) => match[1]!);
}

/** Where a specifier leads: a path under src, or the package itself (whose index re-exports naming). */
function leadsToNaming(file: string, specifier: string): boolean {
  if (specifier === "pyro-ts" || specifier.startsWith("pyro-ts/")) return true;
  if (!specifier.startsWith(".")) return false;
  const target = resolve(dirname(file), specifier);
  return target === NAMING || target.startsWith(NAMING + sep) || target === join(src, "index.js");
}

describe("layers", () => {
  it("reads the import specifiers it checks", () => {
    const daemon = readFileSync(join(src, "daemon", "daemon.ts"), "utf8");
    expect(specifiers(daemon)).toContain("./registry.js");
    expect(specifiers(`import type { A } from "../naming/a.js";\nexport * from './b.js';\nimport "./c.js";\nawait import("./d.js");`)).toEqual([
      "../naming/a.js",
      "./b.js",
      "./c.js",
      "./d.js",
    ]);
  });

  it("nothing below the naming layer imports from it", () => {
    const offending = LOWER_LAYERS.flatMap((layer) => sourceFiles(join(src, layer))).flatMap((file) =>
      specifiers(readFileSync(file, "utf8"))
        .filter((specifier) => leadsToNaming(file, specifier))
        .map((specifier) => `${relative(src, file)} imports ${specifier}`),
    );
    expect(offending).toEqual([]);
  });

  it("the Pyro5 front sits above the daemon: the daemon never imports it, and it never imports naming", () => {
    const pyro5 = join(src, "pyro5");
    const into = (file: string, specifier: string, folder: string): boolean => {
      if (!specifier.startsWith(".")) return false;
      const target = resolve(dirname(file), specifier);
      return target === folder || target.startsWith(folder + sep);
    };
    const offending = [
      ...sourceFiles(join(src, "daemon")).flatMap((file) => specifiers(readFileSync(file, "utf8")).filter((s) => into(file, s, pyro5)).map((s) => `${relative(src, file)} imports ${s}`)),
      ...sourceFiles(pyro5).flatMap((file) => specifiers(readFileSync(file, "utf8")).filter((s) => leadsToNaming(file, s)).map((s) => `${relative(src, file)} imports ${s}`)),
    ];
    expect(offending).toEqual([]);
  });

  it("importing pyro-ts does not load etcd3 (with @grpc and protobufjs) nor better-sqlite3: only etcd or sqlite storage does", () => {
    const index = join(src, "..", "dist", "src", "index.js");
    const script = `await import(${JSON.stringify(index)}); const { createRequire } = await import("node:module");
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /node_modules[\\/](etcd3|@grpc|better-sqlite3)[\\/]/.test(path));
      console.log(loaded.length);`;
    expect(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 }).trim()).toBe("0");
  });
});
