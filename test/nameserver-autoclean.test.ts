/** Autoclean: a nameserver removes the names of objects that are gone. */
import { describe, expect, it } from "vitest";
import { Daemon } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";
import { nameserverHelpers, namingError, recorder, sleep } from "./nameserver-helpers.js";

const use = resources();
const { nameserver, nsProxy } = nameserverHelpers(use);

describe("autoclean", () => {
  it("removes the names of a daemon that went away without unregistering, emitting removed", { timeout: 20_000 }, async () => {
    const { address } = await nameserver({ autoclean: 1, autocleanGrace: 1 });
    const ns = await nsProxy(address);
    const removed = recorder<[string, string]>();
    await ns.removed.connect(removed.slot);

    const daemon = new Daemon({ host: "127.0.0.1", port: 0 });
    use.onCleanup(() => daemon.close());
    await daemon.start();
    const uri = daemon.register(new Laser(), "laser");
    await ns.register("lab.gone", uri, { metadata: ["laser"] });
    await daemon.close(); // its name stays behind: the daemon never knew it

    expect(await removed.until(1, 15_000)).toEqual([["lab.gone", uri]]);
    await namingError(ns.lookup("lab.gone"), /unknown name/);
    expect(await ns.count()).toBe(1);
  });

  it("removes an object unregistered from a live daemon and keeps the live ones", { timeout: 20_000 }, async () => {
    const { address } = await nameserver({ autoclean: 1, autocleanGrace: 1 });
    const ns = await nsProxy(address);
    const removed = recorder<[string, string]>();
    await ns.removed.connect(removed.slot);

    const daemon = await use.daemon();
    const keptUri = daemon.register(new Laser(), "kept");
    const droppedUri = daemon.register(new Laser(), "dropped");
    await ns.register("lab.kept", keptUri);
    await ns.register("lab.dropped", droppedUri);
    expect(daemon.unregister("dropped")).toBe(true);

    expect(await removed.until(1, 15_000)).toEqual([["lab.dropped", droppedUri]]);
    // lab.kept went through the same sweeps; give it two more sweeps past the grace.
    await sleep(2500);
    expect(await ns.lookup("lab.kept")).toBe(keptUri);
    expect(removed.events).toHaveLength(1);
  });
});
