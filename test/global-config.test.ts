/**
 * How global discovery is turned on: the `global` key of a nameserver profile (checked
 * with file and line) and `pyro-ts nameserver --global` (usage errors before anything
 * starts). Build first for the CLI part (dist/cli).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/config/config-error.js";
import { readNameServerProfiles } from "../src/config/nameserver-profiles.js";
import { YamlSource } from "../src/config/yaml-source.js";

const CLI = join(import.meta.dirname, "..", "dist", "cli", "pyro-ts.js");
const profile = (settings: string) => readNameServerProfiles(YamlSource.parse(`nameservers:\n  - lab:\n${settings}`, "lab.yml")).get("lab")!;

function refused(settings: string): string {
  try {
    profile(settings);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("the profile was accepted");
}

describe("global discovery settings", () => {
  it("reads `global` beside federation, and refuses it without one, malformed, or for a cluster that is no key segment", () => {
    expect(profile("      federation: lab\n      global: etcd://10.0.0.5:2379/labs?ttl=5\n").global).toBe("etcd://10.0.0.5:2379/labs?ttl=5");
    expect(profile("      federation: lab\n").global).toBeUndefined();
    expect(refused("      global: etcd://10.0.0.5:2379/labs\n")).toMatch(/^lab\.yml:\d+: global needs federation/);
    expect(refused("      federation: lab\n      global: http://10.0.0.5/labs\n")).toMatch(/^lab\.yml:4: global: invalid etcd storage/);
    expect(refused("      federation: lab\n      global: etcd://h/labs?ttl=1\n")).toMatch(/only option is \?ttl/);
    expect(refused("      federation: lab one\n      global: etcd://h/labs\n")).toMatch(/global: cluster "lab one" cannot be bridged/);
    expect(refused("      federation: lab\n      globl: etcd://h/labs\n")).toMatch(/did you mean "global"/);
  });

  it("pyro-ts nameserver refuses --global without --federate, or with a bad spec, as a usage error", () => {
    for (const args of [
      ["--global", "etcd://127.0.0.1:2379/labs"],
      ["--federate", "lab", "--global", "etcd:///labs"],
      ["--federate", "lab one", "--global", "etcd://127.0.0.1:2379/labs"],
    ]) {
      const run = spawnSync(process.execPath, [CLI, "nameserver", "-p", "0", "-x", ...args], { encoding: "utf8", timeout: 10_000 });
      expect(run.status, `${args.join(" ")}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(/--global|--federate/);
    }
  });
});
