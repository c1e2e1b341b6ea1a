import { describe, expect, it } from "vitest";
import { CallsInProgress, Unanswered } from "../src/daemon/calls-in-progress.js";
import { RunningCount } from "../src/running-count.js";

const PEER = Buffer.from("peer");

describe("CallsInProgress (a daemon's running calls)", () => {
  it("counts calls per connection and answers each settled call once", () => {
    const calls = new CallsInProgress();
    const first = new Unanswered(PEER, "a", 1);
    const second = new Unanswered(PEER, "a", 2);
    calls.begin("a", first);
    calls.begin("a", second);
    calls.begin("b", undefined); // a oneway call: counted, nobody to answer
    expect([calls.of("a"), calls.of("b"), calls.of("c")]).toEqual([2, 1, 0]);
    expect(calls.settle(second)).toBe(true);
    expect(calls.settle(second)).toBe(false);
    expect(calls.settle(undefined)).toBe(true);
    calls.end("a");
    expect(calls.of("a")).toBe(1);
    expect(calls.abandon()).toEqual([first]);
  });

  it("hands close() the calls still waiting, in the order they began, and their outcomes then answer nothing", () => {
    const calls = new CallsInProgress();
    const started = Array.from({ length: 5 }, (_, i) => new Unanswered(PEER, "a", i));
    for (const call of started) calls.begin("a", call);
    expect(calls.settle(started[2])).toBe(true);
    expect(calls.abandon().map((call) => call.id)).toEqual([0, 1, 3, 4]);
    expect(started.map((call) => calls.settle(call))).toEqual([false, false, false, false, false]);
    expect(calls.abandon()).toEqual([]);
  });

  it("forgets connections with no call running once many have been counted", () => {
    const calls = new CallsInProgress();
    calls.begin("busy", undefined);
    for (let i = 0; i < 1000; i++) {
      calls.begin(`peer ${i}`, undefined);
      calls.end(`peer ${i}`);
    }
    expect(calls.of("busy")).toBe(1);
    expect(calls.of("peer 999")).toBe(0);
    calls.begin("peer 5", undefined);
    expect(calls.of("peer 5")).toBe(1);
  });

  it("resolves idle() when the last call ends, or at the timeout", async () => {
    const calls = new CallsInProgress();
    await calls.idle(10_000); // nothing running: at once
    calls.begin("a", undefined);
    const idle = calls.idle(10_000);
    setTimeout(() => calls.end("a"), 10);
    await idle;
    calls.begin("a", undefined);
    const before = Date.now();
    await calls.idle(30);
    expect(Date.now() - before).toBeGreaterThanOrEqual(25);
  });
});

describe("RunningCount", () => {
  it("resolves every wait when the last task ends, each bounded by its own timeout", async () => {
    const count = new RunningCount();
    count.begin();
    count.begin();
    let resolved = 0;
    const waits = [count.none(10_000), count.none(10_000)].map((wait) => wait.then(() => resolved++));
    count.end();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(resolved).toBe(0);
    count.end();
    await Promise.all(waits);
    expect(resolved).toBe(2);
  });
});
