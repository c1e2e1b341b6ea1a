/** Robustness of a daemon against bad input on the wire, over each transport (the daemon and its raw peer: garbage/daemon.ts): members, signals and objects a raw peer cannot reach, and a subscriber that never acknowledges. */
import { describe, expect, it } from "vitest";
import { decodeMessage, type OutFrame } from "../src/protocol/frames.js";
import { KIND_CODES } from "../src/protocol/message.js";
import { Laser } from "./fixtures/laser.js";
import { daemonFedGarbage, LASER } from "./garbage/daemon.js";
import { frames, header, rawCall } from "./garbage/wire.js";
import { forEachTransport } from "./helpers.js";

forEachTransport((use, transport) => {
  describe("a daemon fed garbage", () => {
    const fed = daemonFedGarbage(use, transport);
    const { expectHealthy, peer } = fed;

    it.each([
      ["call", "constructor"],
      ["call", "__proto__"],
      ["call", "_internal"],
      ["call", "toString"],
      ["call", "then"],
      ["call", "hasOwnProperty"],
      ["call", "__defineGetter__"],
      ["call", "valueOf"],
      ["call", "$close"],
      ["call", "powerChanged"],
      ["call", "power"],
      ["call", "nope"],
      ["call", ""],
      ["get", "__proto__"],
      ["get", "constructor"],
      ["get", "_internal"],
      ["get", "echo"],
      ["set", "constructor"],
      ["set", "__proto__"],
      ["set", "wavelength"],
      ["set", "setPower"],
    ] as const)("refuses %s of %j with UnknownMemberError", async (kind, member) => {
      const p = peer();
      const id = 80;
      let message: OutFrame[];
      if (kind === "call") message = rawCall(id, LASER, member, "[[]]");
      else if (kind === "get") message = frames(header({ kind: KIND_CODES.get, id }), JSON.stringify([LASER, member]));
      else message = frames(header({ kind: KIND_CODES.set, id }), JSON.stringify([LASER, member, { polluted: true }]));
      const error = await p.expectError(message, id);
      const as = kind === "call" ? "method" : kind === "get" ? "attribute" : "writable attribute";
      expect(error.name).toBe("UnknownMemberError");
      expect(error.message).toMatch(new RegExp(`^"laser" has no exposed ${as} ${escapeRegExp(JSON.stringify(member))}`));
      // Nothing was reached: the instance and Object.prototype are untouched.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(fed.laser)).toBe(Laser.prototype);
      expect(fed.laser.constructor).toBe(Laser);
      // The daemon object is protected the same way.
      const onDaemon = await p.expectError(rawCall(id + 1, "pyro-ts.Daemon", member, "[[]]"), id + 1);
      expect(onDaemon.name).toBe("UnknownMemberError");
      await expectHealthy();
    });

    it("refuses subscriptions to anything but an exposed signal with UnknownMemberError", async () => {
      const p = peer();
      for (const [i, signal] of ["__proto__", "constructor", "echo", "power", "nope", "toString", ""].entries()) {
        const id = 85 + i;
        const error = await p.expectError(frames(header({ kind: KIND_CODES.subscribe, id }), JSON.stringify([LASER, signal])), id);
        expect(error).toMatchObject({ name: "UnknownMemberError", message: `"laser" has no exposed signal ${JSON.stringify(signal)}` });
      }
      const unknownObject = await p.expectError(frames(header({ kind: KIND_CODES.subscribe, id: 95 }), `["nope","powerChanged"]`), 95);
      expect(unknownObject).toMatchObject({ name: "DaemonError", message: `unknown object "nope"` });
      // Unsubscribing what was never subscribed is answered with false.
      expect(await p.request(frames(header({ kind: KIND_CODES.unsubscribe, id: 96 }), `["${LASER}","powerChanged"]`))).toEqual({ kind: "result", id: 96, value: false });
      await expectHealthy();
    });

    it("keeps emitting to others when a raw subscriber never acknowledges and then vanishes", async () => {
      const p = peer();
      expect(await p.request(frames(header({ kind: KIND_CODES.subscribe, id: 97 }), `["${LASER}","powerChanged"]`))).toEqual({ kind: "result", id: 97, value: null });
      const seen: number[] = [];
      const off = await fed.good.powerChanged.connect((mw) => void seen.push(mw));
      try {
        for (let i = 1; i <= 50; i++) expect(await fed.good.setPower(1000 + i)).toBe(1000 + i);
        // The raw peer got events it never acknowledges.
        const first = decodeMessage(await p.receive(2000));
        expect(first).toMatchObject({ kind: "event", id: 1, object: LASER, signal: "powerChanged" });
        p.close();
        fed.raw = undefined;
        for (let i = 51; i <= 100; i++) expect(await fed.good.setPower(1000 + i)).toBe(1000 + i);
        await expect.poll(() => seen.at(-1), { timeout: 3000 }).toBe(1100);
      } finally {
        await off();
      }
      await expectHealthy();
    });

    it("answers a call to an unknown object id with DaemonError", async () => {
      const p = peer();
      for (const [i, object] of ["nope", "", "__proto__", "constructor", "x".repeat(2000)].entries()) {
        const error = await p.expectError(rawCall(90 + i, object, "echo", "[[1]]"), 90 + i);
        expect(error).toMatchObject({ name: "DaemonError", message: `unknown object ${JSON.stringify(object)}` });
      }
      const get = await p.expectError(frames(header({ kind: KIND_CODES.get, id: 99 }), `["nope","power"]`), 99);
      expect(get).toMatchObject({ name: "DaemonError", message: `unknown object "nope"` });
      await expectHealthy();
    });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
