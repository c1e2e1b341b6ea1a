/** Robustness of a daemon against bad input on the wire, over each transport (the daemon and its raw peer: garbage/daemon.ts): a oneway call is never answered, however broken. */
import { describe, expect, it } from "vitest";
import { encodeValue } from "../src/codec/values.js";
import { encodeMessage, type OutFrame } from "../src/protocol/frames.js";
import { KIND_CODES, PROTOCOL_VERSION } from "../src/protocol/message.js";
import { daemonFedGarbage, goodCall, LASER } from "./garbage/daemon.js";
import { frames, header, rawCall } from "./garbage/wire.js";
import { forEachTransport } from "./helpers.js";

forEachTransport((use, transport) => {
  describe("a daemon fed garbage", () => {
    const fed = daemonFedGarbage(use, transport);
    const { expectHealthy, peer } = fed;

    it("never answers a oneway call, however broken, and keeps working", async () => {
      const p = peer();
      const flags = 1;
      const oneway: OutFrame[][] = [
        frames(header({ flags, id: 160 }), "not json"),
        frames(header({ flags, id: 161, attachments: 3 }), `["${LASER}","blink",[1]]`),
        [Buffer.from([PROTOCOL_VERSION, KIND_CODES.call, flags])],
        frames(header({ flags, id: 162, version: 9 }), `["${LASER}","blink",[1]]`),
        frames(header({ flags, id: 163 }), `{"a":1}`),
        rawCall(164, LASER, "nope", "[[]]", { oneway: true }),
        rawCall(165, LASER, "constructor", "[[]]", { oneway: true }),
        rawCall(166, "no-such-object", "blink", "[1]", { oneway: true }),
        rawCall(167, LASER, "blink", `{"0":1}`, { oneway: true }),
        rawCall(168, LASER, "echo", `[{}],{"values":{"0.__proto__.polluted":["undefined"]}}`, { oneway: true }),
        rawCall(169, LASER, "setPower", "[-1]", { oneway: true }),
        // Over maxMessageSize, in frames each under libzmq's limit (over TCP such a message costs the connection: tested above).
        ...(transport === "zmq" ? [rawCall(170, LASER, "blink", `[1]`, { oneway: true, attachments: [Buffer.alloc(600 * 1024), Buffer.alloc(600 * 1024)] })] : []),
      ];
      for (const frames of oneway) await p.send(frames);
      // A valid oneway call goes through, silently too.
      await p.send(encodeMessage({ kind: "call", id: 171, oneway: true, object: LASER, member: "blink", args: encodeValue([5]) }));
      await p.expectSilence(500);
      await expect.poll(() => fed.laser.blinks, { timeout: 2000 }).toBe(5);
      // The first reply the raw peer ever gets is the one to its next two-way call.
      expect(await p.request(goodCall(172, "echo", ["two-way"]))).toEqual({ kind: "result", id: 172, value: "two-way" });
      // What could not be answered was reported locally: undecodable ones and calls that failed.
      await expect.poll(() => fed.reported.length, { timeout: 2000 }).toBeGreaterThanOrEqual(6);
      expect(fed.reported.map((r) => (r.error as Error).name)).toEqual(
        expect.arrayContaining(["ProtocolError", "UnknownMemberError", "UnknownMemberError", "DaemonError", "SerializeError", "RangeError"]),
      );
      expect(fed.reported.map((r) => r.context)).toContain("a oneway call was dropped");
      expect(fed.reported.map((r) => r.context)).toContain(`oneway call ${LASER}.nope failed`);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      await expectHealthy();
    });
  });
});
