import { describe, expect, it } from "vitest";
import { PendingTable } from "../src/proxy/pending-table.js";

describe("PendingTable (a channel's calls waiting for replies)", () => {
  it("finds, counts and forgets calls by id, in sequence as a channel makes them", () => {
    const table = new PendingTable<string>();
    for (let id = 1; id <= 3000; id++) {
      table.set(id, `call ${id}`);
      if (id > 100) expect(table.delete(id - 100)).toBe(true);
    }
    expect(table.entries()).toHaveLength(100);
    expect(table.get(2901)).toBe("call 2901");
    expect(table.has(2900)).toBe(false);
    expect(table.get(2900)).toBeUndefined();
    expect(table.delete(2900)).toBe(false);
    expect(table.entries().map(([id]) => id)).toEqual(Array.from({ length: 100 }, (_, i) => 2901 + i));
  });

  it("keeps a long call whose slot a call 1024 ids later takes, and finds both", () => {
    const table = new PendingTable<string>();
    table.set(5, "long");
    for (let id = 6; id <= 5000; id++) {
      table.set(id, `call ${id}`);
      table.delete(id);
    }
    table.set(5 + 1024 * 5, "same slot");
    expect(table.get(5)).toBe("long");
    expect(table.get(5 + 1024 * 5)).toBe("same slot");
    expect(table.entries()).toHaveLength(2);
    expect(table.entries()).toEqual([[5, "long"], [5125, "same slot"]]);
    expect(table.delete(5)).toBe(true);
    expect(table.get(5)).toBeUndefined();
    expect(table.get(5125)).toBe("same slot");
    expect(table.entries()).toHaveLength(1);
  });

  it("takes ids up to 2^32 - 1, as correlation ids go before they wrap around", () => {
    const table = new PendingTable<number>();
    const ids = [0xffff_fffe, 0xffff_ffff, 1, 2];
    for (const id of ids) table.set(id, id);
    for (const id of ids) expect(table.get(id)).toBe(id);
    expect(table.entries().map(([id]) => id)).toEqual([1, 2, 0xffff_fffe, 0xffff_ffff]);
    for (const id of ids) expect(table.delete(id)).toBe(true);
    expect(table.entries()).toEqual([]);
  });
});
