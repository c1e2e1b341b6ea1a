/** Regression tests for what the fuzz test (fuzz.test.ts) found. */
import { describe, expect, it } from "vitest";
import { locateNs, NAMESERVER_NAME, NamingError, startNameServer } from "../src/index.js";

describe("the nameserver found by the fuzz test", () => {
  // Found by this fuzz test (fixed, kept as a regression test): a registered name "__proto__"
  // broke list() for every client; validateName now refuses it.
  it("a client cannot register the name \"__proto__\", and list() keeps answering", async () => {
    const running = await startNameServer({ host: "127.0.0.1", port: 0, broadcast: false });
    const port = (running.daemon.location as { port: number }).port;
    const ns = await locateNs({ ns: `127.0.0.1:${port}`, timeout: 5000 }).catch(async (error: unknown) => {
      await running.close();
      throw error;
    });
    try {
      // Refusing the name (NamingError) would be a fix; so would accepting it and listing it.
      const refused = await ns.register("__proto__", `PYRO:x@127.0.0.1:${port}`).then(() => undefined, (error: unknown) => error);
      if (refused !== undefined) expect(refused).toBeInstanceOf(NamingError);
      expect(await ns.list(), "list() after registering \"__proto__\"").toEqual({
        [NAMESERVER_NAME]: running.uri,
        ...(refused === undefined && JSON.parse(`{"__proto__":"PYRO:x@127.0.0.1:${port}"}`)),
      });
    } finally {
      await ns.$close();
      await running.close();
    }
  });
});
