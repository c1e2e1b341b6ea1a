import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { DaemonError, expose, lockable, LockedError } from "../src/index.js";
import { resources } from "./helpers.js";

const use = resources();

@expose
@lockable
class Instrument {
  #value = 0;
  set(value: number): number {
    this.#value = value;
    return value;
  }
  get value(): number {
    return this.#value;
  }
}

@expose
class Plain {
  ping(): string {
    return "pong";
  }
}

// Two connections to one daemon: proxies with different options do not share one.
const first = { timeout: 3000 };
const second = { timeout: 3000, maxMessageSize: 32 * 1024 * 1024 };

describe("lockable objects", () => {
  it("a lock refuses other clients, naming the holder, until unlocked", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Instrument(), "stage");
    const alice = await use.connect<Instrument>(uri, first);
    const bob = await use.connect<Instrument>(uri, second);
    await alice.$lock("alice@lab1");
    await alice.$lock("alice@lab1"); // locking again is harmless
    expect(await alice.set(1)).toBe(1);
    const refused = await bob.set(2).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockedError);
    expect((refused as Error).message).toMatch(/^"stage" is locked by alice@lab1 since \d{4}-/);
    await expect(bob.value).rejects.toThrow(LockedError);
    await expect(bob.$lock("bob")).rejects.toThrow(/locked by alice@lab1/);
    await expect(bob.$unlock()).rejects.toThrow(LockedError);
    await alice.$unlock();
    expect(await bob.set(3)).toBe(3);
    await bob.$lock("bob");
    await expect(alice.set(4)).rejects.toThrow(/locked by bob/);
  });

  it("closing the holder's proxy releases its lock", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Instrument(), "stage");
    const { connect } = await import("../src/index.js");
    const alice = await connect<Instrument>(uri, first);
    const bob = await use.connect<Instrument>(uri, second);
    await alice.$lock("alice");
    await expect(bob.set(1)).rejects.toThrow(LockedError);
    await alice.$close();
    expect(await bob.set(1)).toBe(1);
  });

  it("refuses to lock an object that is not lockable", async () => {
    const daemon = await use.daemon();
    const plain = await use.connect<Plain>(daemon.register(new Plain()));
    await expect(plain.$lock()).rejects.toThrow(DaemonError);
    await expect(plain.$lock()).rejects.toThrow(/not lockable/);
    expect(await plain.ping()).toBe("pong");
  });

  it("the lock of a holder killed with SIGKILL is released after the heartbeat timeout", async () => {
    const daemon = await use.daemon({ heartbeatInterval: 100, heartbeatTimeout: 500 });
    const uri = daemon.register(new Instrument(), "stage");
    const holder = spawn(process.execPath, ["dist/test/fixtures/lock-holder.js", uri], { stdio: ["ignore", "pipe", "inherit"] });
    use.onCleanup(async () => {
      if (holder.exitCode === null && holder.signalCode === null) {
        holder.kill("SIGKILL");
        await once(holder, "exit");
      }
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the holder did not lock within 5 s")), 5000);
      holder.stdout!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("locked")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const other = await use.connect<Instrument>(uri, { ...second, heartbeatInterval: 100, heartbeatTimeout: 500 });
    await expect(other.set(1)).rejects.toThrow(/locked by bench-holder/);
    // While the holder lives (and heartbeats), its lock stays.
    await new Promise((resolve) => setTimeout(resolve, 800));
    await expect(other.set(1)).rejects.toThrow(LockedError);
    holder.kill("SIGKILL");
    await once(holder, "exit");
    await expect.poll(() => other.set(7).catch((e: unknown) => e), { timeout: 5000, interval: 100 }).toBe(7);
  });
});
