import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, expect, it } from "vitest";
import { nameServerProfile } from "../src/config/nameserver-profiles.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "pyro-ts-curve-cli-"));
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => run(process.execPath, ["dist/cli/pyro-ts.js", ...args], { timeout: 15_000 });

it("keygen writes a private .key and a .pub", async () => {
  const { stdout } = await cli("keygen", "--out", join(dir, "keys", "lab"));
  expect(stdout).toMatch(/wrote .*lab\.key \(keep it private\) and .*lab\.pub/);
  expect(statSync(join(dir, "keys", "lab.key")).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "keys", "lab.pub")).mode & 0o077).not.toBe(0);
});

it("a nameserver from a profile with curve keys admits only authorized clients", async () => {
  await cli("keygen", "--out", join(dir, "ns"));
  await cli("keygen", "--out", join(dir, "alice"));
  await cli("keygen", "--out", join(dir, "mallory"));
  mkdirSync(join(dir, "clients"));
  copyFileSync(join(dir, "alice.pub"), join(dir, "clients", "alice.pub"));
  const config = join(dir, "lab.yml");
  writeFileSync(config, `nameservers:\n  - secure:\n      host: 127.0.0.1\n      ns_port: 0\n      ns_bcport: 0\n      curve_secret_key_file: ${join(dir, "ns.key")}\n      curve_authorized_clients: ${join(dir, "clients")}\n`);
  expect(nameServerProfile("secure", config)).toMatchObject({ curveSecretKeyFile: join(dir, "ns.key"), curveAuthorizedClients: join(dir, "clients") });
  const nameserver = spawn(process.execPath, ["dist/cli/pyro-ts.js", "nameserver", "-c", config, "-l", "secure"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(nameserver);
  const firstLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no output within 5 s")), 5000);
    nameserver.stdout!.once("data", (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString().split("\n")[0]!);
    });
  });
  expect(firstLine).toMatch(/^nameserver running at PYRO:pyro-ts\.NameServer@127\.0\.0\.1:\d+\?key=/);
  const address = /@([\d.]+:\d+)\?/.exec(firstLine)![1]!;
  const nsKey = join(dir, "ns.pub");
  const ok = await cli("ns", "ping", "--ns", address, "--ns-key", nsKey, "--curve-secret", join(dir, "alice.key"));
  expect(ok.stdout).toMatch(/is alive/);
  const refused = await cli("ns", "ping", "--ns", address, "--ns-key", nsKey, "--curve-secret", join(dir, "mallory.key")).catch((e: { code: number; stderr: string }) => e);
  expect(refused).toMatchObject({ code: 1 });
  expect((refused as { stderr: string }).stderr).toMatch(/^pyro-ts: SecurityError: the daemon refused this client's key/);
  const plain = await cli("ns", "ping", "--ns", address).catch((e: { code: number; stderr: string }) => e);
  expect((plain as { stderr: string }).stderr).toMatch(/SecurityError/);
  nameserver.kill("SIGINT");
  expect((await once(nameserver, "exit"))[0]).toBe(0);
});
