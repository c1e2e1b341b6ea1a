/** Federation settings in YAML nameserver profiles: read, defaulted, and refused with the line when wrong. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/config/config-error.js";
import { DEFAULT_PROFILE, readNameServerProfiles } from "../src/config/nameserver-profiles.js";
import { YamlSource } from "../src/config/yaml-source.js";
import { checkFederationOptions, parseStaticPeer } from "../src/federation/federation-options.js";

const profile = (settings: string) => readNameServerProfiles(YamlSource.parse(`nameservers:\n  - lab:\n${settings}`, "lab.yml")).get("lab")!;

function refused(settings: string): ConfigError {
  try {
    profile(settings);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("the profile was accepted");
}

describe("federation in nameserver profiles", () => {
  it("reads federation, beacon_port, beacon_interval and peers", () => {
    const read = profile("      federation: lab\n      beacon_port: 9998\n      beacon_interval: 0.5\n      peers: [10.1.2.3:9090, \"[::1]:9091\"]\n");
    expect(read).toMatchObject({ federation: "lab", beaconPort: 9998, beaconInterval: 0.5, peers: ["10.1.2.3:9090", "[::1]:9091"] });
  });

  it("leaves federation off by default", () => {
    const read = profile("      ns_port: 9090\n");
    expect(read.federation).toBeUndefined();
    expect(read).toMatchObject({ beaconPort: 9999, beaconInterval: 1, peers: [] });
    expect(DEFAULT_PROFILE.federation).toBeUndefined();
  });

  it("refuses bad values with the file and line", () => {
    expect(refused("      federation: \"\"\n").message).toMatch(/^lab\.yml:3: federation must be a cluster name/);
    expect(refused("      federation: [a]\n").message).toMatch(/federation must be a single value/);
    expect(refused("      federation: lab\n      beacon_port: 70000\n").message).toMatch(/beacon_port must be a port number/);
    expect(refused("      federation: lab\n      beacon_interval: 0\n").message).toMatch(/beacon_interval must be a number of seconds/);
    expect(refused("      federation: lab\n      peers: 10.1.2.3:9090\n").message).toMatch(/peers must be a list/);
    expect(refused("      federation: lab\n      peers: [nowhere]\n").message).toMatch(/"nowhere" is not host:port/);
    expect(refused("      federation: lab\n      beacon_prot: 9998\n").message).toMatch(/unknown key "beacon_prot".*did you mean "beacon_port"/);
  });

  it("checks options given to the library", () => {
    expect(() => checkFederationOptions({ cluster: "" })).toThrow(RangeError);
    expect(() => checkFederationOptions({ cluster: "x".repeat(65) })).toThrow(/1 to 64 bytes/);
    expect(() => checkFederationOptions({ cluster: "lab\n" })).toThrow(RangeError);
    expect(() => checkFederationOptions({ cluster: "lab", beaconPort: 65_536 })).toThrow(/beacon port/);
    expect(() => checkFederationOptions({ cluster: "lab", beaconInterval: -1 })).toThrow(/beacon interval/);
    expect(() => checkFederationOptions({ cluster: "lab", peers: ["host"] })).toThrow(/not host:port/);
    expect(parseStaticPeer("10.0.0.1:9090")).toEqual({ endpoint: "10.0.0.1:9090" });
    expect(() => parseStaticPeer("10.0.0.1:9090?key=short")).toThrow(/Z85/);
    expect(() => parseStaticPeer("10.0.0.1:0")).toThrow(/host:port/);
  });
});
