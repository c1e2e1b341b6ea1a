import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileNameRegex } from "../src/naming/safe-regex.js";
import { MemoryStore } from "../src/naming/storage/memory-store.js";
import type { NameStorage, Registration } from "../src/naming/storage/name-storage.js";
import { openStorage } from "../src/naming/storage/open-storage.js";
import type { Figure } from "./rpc-benchmarks.js";

const TAGS = ["laser", "camera", "stage", "sensor", "1550nm", "780nm", "lab1", "lab2"];

function registration(i: number): Registration {
  const lab = `lab${i % 100}`;
  return {
    name: `${lab}.device${i}`,
    uri: `PYRO:obj_${i.toString(16).padStart(24, "0")}@10.0.${(i >> 8) & 255}.${i & 255}:4711`,
    metadata: [TAGS[i % TAGS.length]!, TAGS[(i >> 3) % TAGS.length]!].sort(),
  };
}

function ms(run: () => unknown, repeat = 5): number {
  run(); // warm
  const start = process.hrtime.bigint();
  for (let i = 0; i < repeat; i++) run();
  return Number(process.hrtime.bigint() - start) / 1e6 / repeat;
}

/** Query times over `count` registrations per store, beside a plain Array scan of the same data. */
export function storeBenchmarks(count: number): Figure[] {
  const figures: Figure[] = [];
  const registrations = Array.from({ length: count }, (_, i) => registration(i));
  const regex = compileNameRegex("lab7\\.device\\d*5$");
  const baselines = {
    prefix: ms(() => registrations.filter((r) => r.name.startsWith("lab42."))),
    regex: ms(() => registrations.filter((r) => regex.test(r.name))),
    metadata: ms(() => registrations.filter((r) => r.metadata.includes("laser") && r.metadata.includes("lab2"))),
  };
  const dir = mkdtempSync(join(tmpdir(), "pyro-ts-bench-"));
  try {
    for (const spec of ["memory", `file:${join(dir, "ns.journal")}`, `sqlite:${join(dir, "ns.db")}`]) {
      const store: NameStorage = openStorage(spec);
      const kind = spec.split(":")[0]!;
      try {
        for (const r of registrations) store.put(r);
        const prefix = ms(() => store.list({ prefix: "lab42." }));
        const byRegex = ms(() => store.list({ regex }));
        const byMetadata = ms(() => store.list({ metadataAll: ["laser", "lab2"] }));
        figures.push({ name: `list by prefix, ${kind}, ${count} names`, unit: "ms", pyro: prefix, baseline: baselines.prefix, baselineName: "Array.filter", ratio: baselines.prefix / prefix });
        figures.push({ name: `list by regex, ${kind}, ${count} names`, unit: "ms", pyro: byRegex, baseline: baselines.regex, baselineName: "Array.filter", ratio: baselines.regex / byRegex });
        figures.push({ name: `list by metadata, ${kind}, ${count} names`, unit: "ms", pyro: byMetadata, baseline: baselines.metadata, baselineName: "Array.filter", ratio: baselines.metadata / byMetadata });
      } finally {
        store.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  figures.push(memoryPerRegistration(registrations));
  return figures;
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** Heap bytes per registration held in the memory store (data included), beside a plain Map of name to entry. */
function memoryPerRegistration(registrations: readonly Registration[]): Figure {
  // Fresh copies, made after the first reading, so each side pays for its own strings.
  const copies = () => registrations.map((r) => JSON.parse(JSON.stringify(r)) as Registration);
  let before = heapAfterGc();
  const store = new MemoryStore();
  for (const r of copies()) store.put(r);
  store.list({ prefix: "lab1." }); // builds the sorted index
  const storeBytes = (heapAfterGc() - before) / registrations.length;
  store.close();
  before = heapAfterGc();
  const map = new Map(copies().map((r) => [r.name, r]));
  const mapBytes = (heapAfterGc() - before) / registrations.length;
  map.clear();
  return { name: "memory per registration (memory store)", unit: "bytes", pyro: storeBytes, baseline: mapBytes, baselineName: "Map name→entry", ratio: mapBytes / storeBytes };
}
