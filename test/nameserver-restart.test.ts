/** A nameserver restarted: daemons register their names again by themselves; file and sqlite storage keep them. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Daemon, lookup, NAMESERVER_NAME, startNameServer } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";
import { nameserverHelpers, portOf, uriOf } from "./nameserver-helpers.js";

const use = resources();
const { tempDir, nameserver, nsProxy } = nameserverHelpers(use);

describe("nameserver restart", () => {
  it("gets a running daemon's names back by themselves when a memory nameserver restarts on the same port", { timeout: 25_000 }, async () => {
    const first = await startNameServer({ port: 0, bcport: 0, bchost: "127.0.0.1" });
    use.onCleanup(() => first.close());
    const port = portOf(first);
    const address = `127.0.0.1:${port}`;

    const daemon = new Daemon({ host: "127.0.0.1", port: 0, ns: address });
    use.onCleanup(() => daemon.close());
    const laserUri = daemon.register(new Laser(), { name: "lab.laser", metadata: ["laser"] });
    const spareUri = daemon.register(new Laser(), { name: "lab.spare" });
    await daemon.start();
    const expected = (nsUri: string) => ({
      "lab.laser": { uri: laserUri, metadata: ["laser"] },
      "lab.spare": { uri: spareUri, metadata: [] },
      [NAMESERVER_NAME]: { uri: nsUri, metadata: [] },
    });
    expect(first.nameserver.list({ returnMetadata: true })).toEqual(expected(first.uri));

    await first.close();
    const second = await startNameServer({ port, bcport: 0, bchost: "127.0.0.1" });
    use.onCleanup(() => second.close());
    expect(second.uri).toBe(first.uri);
    await expect.poll(() => second.nameserver.list({ returnMetadata: true }), { timeout: 10_000, interval: 100 }).toEqual(expected(second.uri));

    const proxy = await lookup<Laser>("lab.laser", { ns: address, locateTimeout: 5000 });
    use.onCleanup(() => proxy.$close());
    expect(await proxy.echo("back")).toBe("back");
    await daemon.close();
    expect(second.nameserver.count()).toBe(1);
  });
});

describe.each(["file", "sqlite"] as const)("a nameserver on %s storage", (kind) => {
  it("keeps its names and metadata across a restart, with its own entry renewed", async () => {
    const dir = tempDir();
    const storage = `${kind}:${join(dir, kind === "file" ? "ns.journal" : "ns.db")}`;
    const first = await nameserver({ storage });
    const ns1 = await nsProxy(first.address);
    await ns1.register("lab.laser", uriOf("laser"), { metadata: ["laser"] });
    await ns1.register("lab.gone", uriOf("gone"));
    await ns1.setMetadata("lab.laser", ["laser", "1550nm"]);
    expect(await ns1.remove("lab.gone")).toBe(1);
    await ns1.$close();
    await first.running.close();

    const second = await nameserver({ storage });
    const ns2 = await nsProxy(second.address);
    expect(await ns2.list({ returnMetadata: true })).toEqual({
      "lab.laser": { uri: uriOf("laser"), metadata: ["1550nm", "laser"] },
      [NAMESERVER_NAME]: { uri: second.running.uri, metadata: [] },
    });
  });
});
