import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { CallDeadlines } from "../src/proxy/call-deadlines.js";

/** Deadlines of pretend calls, and when expire() saw each of them past. */
function calls(): { deadlines: Set<number>; expired: Map<number, number>; firings: number[]; timer: CallDeadlines } {
  const deadlines = new Set<number>();
  const expired = new Map<number, number>();
  const firings: number[] = [];
  const timer = new CallDeadlines((now) => {
    firings.push(now);
    let next = Infinity;
    for (const deadline of deadlines) {
      if (deadline <= now) {
        deadlines.delete(deadline);
        expired.set(deadline, now);
      } else next = Math.min(next, deadline);
    }
    return next;
  });
  return { deadlines, expired, firings, timer };
}

describe("CallDeadlines (one timer for a channel's calls)", () => {
  it("fires at each deadline in turn, never before it, whatever order the calls came in", async () => {
    const { deadlines, expired, timer } = calls();
    const start = Date.now();
    for (const after of [120, 40, 80]) {
      deadlines.add(start + after);
      timer.add(start + after);
    }
    await sleep(250);
    expect([...expired.keys()].sort()).toEqual([start + 40, start + 80, start + 120]);
    for (const [deadline, at] of expired) expect(at).toBeGreaterThanOrEqual(deadline);
    expect(expired.get(start + 40)!).toBeLessThan(start + 80); // not held back by the later ones
    timer.stop();
  });

  it("is not moved by a later deadline, and stays quiet once no call waits", async () => {
    const { deadlines, expired, firings, timer } = calls();
    const soon = Date.now() + 30;
    deadlines.add(soon);
    timer.add(soon);
    timer.add(Date.now() + 60_000); // answered before its time: never in `deadlines`
    timer.add(Infinity); // a call without a timeout
    await sleep(120);
    expect(expired.has(soon)).toBe(true);
    // Node's timers keep the loop's monotonic time, which may run a millisecond ahead of
    // Date.now(): a firing just before the deadline expires nothing and sets the timer again.
    for (const at of firings) expect(at).toBeGreaterThanOrEqual(soon - 5);
    // One firing at or past the deadline, the one that expired it, and none since.
    expect(firings.filter((at) => at >= soon)).toHaveLength(1);
    timer.stop();
  });

  it("fires no more once stopped, and never keeps the process alive by itself", async () => {
    const { deadlines, firings, timer } = calls();
    const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const soon = Date.now() + 20;
    deadlines.add(soon);
    timer.add(soon);
    expect(process.getActiveResourcesInfo().filter((r) => r === "Timeout").length).toBe(before);
    timer.stop();
    await sleep(60);
    expect(firings).toEqual([]);
  });
});
