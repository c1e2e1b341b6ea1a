import { describe, expect, test } from "vitest";
import { hasRespawnDuty, MAX_RANK_HOLDERS, RankTable } from "../src/naming/host/rank-table.js";

describe("the respawn order of a host's processes", () => {
  test("ranks follow the order of joining; joining again keeps the rank", () => {
    const table = new RankTable();
    expect([table.join(300), table.join(100), table.join(200)]).toEqual([1, 2, 3]);
    expect(table.join(100)).toBe(2);
    expect(table.holders()).toEqual([
      { rank: 1, pid: 300 },
      { rank: 2, pid: 100 },
      { rank: 3, pid: 200 },
    ]);
  });

  test("ranks are never handed out twice: a holder that left and joins again goes last", () => {
    const table = new RankTable();
    table.join(10);
    table.join(20);
    expect(table.leave(10, 1)).toBe(true);
    expect(table.join(10)).toBe(3);
  });

  test("leave needs the holder's own rank; prune drops the dead", () => {
    const table = new RankTable();
    table.join(10);
    table.join(20);
    expect(table.leave(10, 2)).toBe(false);
    expect(table.prune((pid) => pid !== 20)).toBe(true);
    expect(table.prune(() => true)).toBe(false);
    expect(table.holders()).toEqual([{ rank: 1, pid: 10 }]);
  });

  test("bad process ids and too many holders are refused, changing nothing", () => {
    const table = new RankTable();
    for (const pid of [0, -1, 1.5, Number.NaN, 2 ** 60]) expect(() => table.join(pid)).toThrow(RangeError);
    for (let pid = 1; pid <= MAX_RANK_HOLDERS; pid++) table.join(pid);
    expect(() => table.join(MAX_RANK_HOLDERS + 1)).toThrow(/at most/);
    expect(table.holders()).toHaveLength(MAX_RANK_HOLDERS);
  });

  test("exactly one live holder has the duty: the lowest rank alive", () => {
    const holders = [
      { rank: 1, pid: 10 },
      { rank: 2, pid: 20 },
      { rank: 5, pid: 50 },
    ];
    const alive = new Set([20, 50]);
    const isAlive = (pid: number): boolean => alive.has(pid);
    expect(holders.filter((h) => alive.has(h.pid) && hasRespawnDuty(h.rank, holders, isAlive)).map((h) => h.pid)).toEqual([20]);
    alive.delete(20);
    expect(holders.filter((h) => alive.has(h.pid) && hasRespawnDuty(h.rank, holders, isAlive)).map((h) => h.pid)).toEqual([50]);
  });
});
