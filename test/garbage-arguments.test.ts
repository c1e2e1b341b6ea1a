/** Robustness of a daemon against bad input on the wire, over each transport (the daemon and its raw peer: garbage/daemon.ts): call arguments that are not an array, superjson annotations that try prototype pollution, deep nesting. */
import { describe, expect, it } from "vitest";
import { KIND_CODES } from "../src/protocol/message.js";
import { daemonFedGarbage, LASER } from "./garbage/daemon.js";
import { frames, header, rawCall, type Reply } from "./garbage/wire.js";
import { forEachTransport } from "./helpers.js";
import { prototypeSnapshot } from "./seeded.js";

function expectNoPollution(before: Record<string, string[]>): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  expect(prototypeSnapshot()).toEqual(before);
}

forEachTransport((use, transport) => {
  describe("a daemon fed garbage", () => {
    const fed = daemonFedGarbage(use, transport);
    const { expectHealthy, peer } = fed;

    it("answers arguments that are not an array with an error", async () => {
      const p = peer();
      const cases = [`5`, `null`, `"abc"`, `{"0":1,"length":1}`, `[1],{"values":["set"]}`, `{"length":100000000}`];
      for (const [i, args] of cases.entries()) {
        const error = await p.expectError(rawCall(100 + i, LASER, "setPower", args), 100 + i);
        expect(error, args).toMatchObject({ name: "ProtocolError", message: "call arguments must be an array" });
      }
      expect(fed.laser.power).toBe(fed.healthChecks);
      await expectHealthy();
    });

    it("refuses superjson annotations that try prototype pollution", async () => {
      const before = prototypeSnapshot();
      const p = peer();
      // Each attempt is refused with an error matching `error`, or (when it is a legitimate value after all) echoed as `result` checks.
      const attempts: { args: string; error?: RegExp; result?: (value: unknown) => void }[] = [
        { args: `[{}],{"values":{"0.__proto__.polluted":["undefined"]}}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":{"0.constructor.prototype.polluted":["undefined"]}}`, error: /(constructor|prototype) is not allowed/ },
        { args: `[{"a":{}}],{"referentialEqualities":{"0.a":["0.__proto__.polluted"]}}`, error: /__proto__ is not allowed/ },
        { args: `[{"a":{}}],{"referentialEqualities":{"0.a":["0.constructor.prototype.polluted"]}}`, error: /not allowed/ },
        { args: `[{}],{"referentialEqualities":[["0.__proto__"]]}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":{"__proto__":{"polluted":["undefined"]}}}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":[["map"],{"__proto__":["undefined"]}]}`, error: /./ },
        { args: `[{"__proto__":{"polluted":1}}],{"values":{"0.__proto__":["undefined"]}}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":{"0":[["class","Object"]]}}`, error: /./ },
        { args: `[5],{"values":{"0":[["custom","Buffer"]]}}`, error: /binary placeholder 5 does not name an attachment frame/ },
        { args: `[0],{"values":{"0":[["custom","NoSuchType"]]}}`, error: /./ },
        { args: `[0],{"values":"0"}`, error: /./ },
        // A plain JSON object with an own "__proto__" key: decoded as an own property, refused when echoed back.
        { args: `[{"__proto__":{"polluted":1}}]`, error: /prototype pollution/ },
        // A Map keyed "__proto__" is a legitimate value: it comes back as it went.
        {
          args: `[[["__proto__",{"polluted":1}]]],{"values":{"0":["map"]}}`,
          result: (value) => {
            expect(value).toBeInstanceOf(Map);
            expect([...(value as Map<string, unknown>)]).toEqual([["__proto__", { polluted: 1 }]]);
          },
        },
      ];
      for (const [i, attempt] of attempts.entries()) {
        const id = 110 + i;
        const reply = await p.request(rawCall(id, LASER, "echo", attempt.args));
        expect(reply.id).toBe(id);
        // Whatever the daemon made of it, nothing may be polluted.
        expectNoPollution(before);
        if (attempt.error) {
          expect(reply, attempt.args).toMatchObject({ kind: "error", error: { message: expect.stringMatching(attempt.error) } });
        } else {
          expect(reply.kind, attempt.args).toBe("result");
          attempt.result!((reply as Extract<Reply, { kind: "result" }>).value);
        }
      }
      // Through set, too.
      const set = await p.request(frames(header({ kind: KIND_CODES.set, id: 140 }), `["${LASER}","power",{},{"values":{"__proto__.polluted":["undefined"]}}]`));
      expect(set).toMatchObject({ kind: "error", id: 140, error: { name: "SerializeError" } });
      expectNoPollution(before);
      expect(fed.laser.power).toBe(fed.healthChecks);
      await expectHealthy();
    });

    it("answers deeply nested arguments without falling over", async () => {
      const p = peer();
      const depth = 20_000;
      const nested = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      const reply = await p.request(rawCall(180, LASER, "echo", `[${nested}]`), 5000);
      expect(reply.id).toBe(180);
      // Either echoed or refused with an error; what matters is an answer and a live daemon.
      if (reply.kind === "error") expect(reply.error.name).toBe("SerializeError");
      await expectHealthy();
    });
  });
});
