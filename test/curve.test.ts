import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, Daemon, expose, locateNs, lookup, parseUri, SecurityError, serve, startNameServer, writeKeyFiles } from "../src/index.js";
import { resources } from "./helpers.js";

const use = resources();
const dir = mkdtempSync(join(tmpdir(), "pyro-ts-curve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const server = writeKeyFiles(join(dir, "server"));
const alice = writeKeyFiles(join(dir, "alice"));
const mallory = writeKeyFiles(join(dir, "mallory"));
const clients = join(dir, "clients");
mkdirSync(clients);
copyFileSync(alice.publicFile, join(clients, "alice.pub"));

@expose
class Vault {
  echo<T>(value: T): T {
    return value;
  }
}

/** A TCP relay on loopback that records every byte passing in either direction. */
async function recordingRelay(targetPort: number): Promise<{ port: number; captured: () => Buffer; server: Server }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (d: Buffer) => {
      chunks.push(d);
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      chunks.push(d);
      client.write(d);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  use.onCleanup(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as { port: number }).port, captured: () => Buffer.concat(chunks), server };
}

const SECRET = "TOP-SECRET-PAYLOAD-8f3a91";

describe("CURVE", () => {
  it("writes key files: the secret one readable by its owner only", () => {
    expect(statSync(server.secretFile).mode & 0o777).toBe(0o600);
  });

  it("encrypts calls; the URI carries the daemon's public key", async () => {
    const daemon = await use.daemon({ curve: { secretKeyFile: server.secretFile, authorizedClients: clients } });
    const uri = daemon.register(new Vault(), "vault");
    expect(parseUri(uri).key).toMatch(/^.{40}$/);
    const vault = await use.connect<Vault>(uri, { curve: { secretKeyFile: alice.secretFile } });
    expect(await vault.echo(SECRET)).toBe(SECRET);
  });

  it("refuses, fast and clearly, an unknown client key, a client without keys and a wrong server key", async () => {
    const daemon = await use.daemon({ curve: { secretKeyFile: server.secretFile, authorizedClients: clients } });
    const uri = daemon.register(new Vault(), "vault");
    const cases: [string, () => Promise<unknown>][] = [
      ["unknown client key", () => connect(uri, { timeout: 10_000, curve: { secretKeyFile: mallory.secretFile } })],
      ["no client key file", () => connect(uri, { timeout: 10_000, maxMessageSize: 1 << 20 })],
      ["no CURVE at all", () => connect(uri.split("?")[0]!, { timeout: 10_000 })],
      ["wrong server key", () => connect(`${uri.split("?")[0]}?key=${encodeURIComponent(readPublic(mallory.publicFile))}`, { timeout: 10_000, curve: { secretKeyFile: alice.secretFile } })],
    ];
    for (const [what, attempt] of cases) {
      const started = Date.now();
      const error = await attempt().catch((e: unknown) => e);
      expect(error, what).toBeInstanceOf(SecurityError);
      expect(Date.now() - started, what).toBeLessThan(5000); // well before the 10 s timeout
    }
  });

  it("admits a client once its key lands in the authorized folder", async () => {
    const folder = join(dir, "late-clients");
    mkdirSync(folder);
    const bob = writeKeyFiles(join(dir, "bob"));
    const daemon = await use.daemon({ curve: { secretKeyFile: server.secretFile, authorizedClients: folder } });
    const uri = daemon.register(new Vault(), "vault");
    await expect(connect(uri, { timeout: 3000, curve: { secretKeyFile: bob.secretFile } })).rejects.toThrow(SecurityError);
    copyFileSync(bob.publicFile, join(folder, "bob.pub"));
    await expect
      .poll(async () => {
        const proxy = await connect<Vault>(uri, { timeout: 3000, curve: { secretKeyFile: bob.secretFile } }).catch(() => undefined);
        const answer = await proxy?.echo("in");
        await proxy?.$close();
        return answer;
      }, { timeout: 5000, interval: 300 })
      .toBe("in");
  });

  it("keeps the payload out of the bytes on the wire (and the relay does see plain traffic)", async () => {
    for (const encrypted of [true, false]) {
      const daemon = await use.daemon(encrypted ? { curve: { secretKeyFile: server.secretFile } } : {});
      const uri = parseUri(daemon.register(new Vault(), "vault"));
      const relay = await recordingRelay((uri.location as { port: number }).port);
      const viaRelay = `PYRO:vault@127.0.0.1:${relay.port}${uri.key ? `?key=${encodeURIComponent(uri.key)}` : ""}`;
      const vault = await use.connect<Vault>(viaRelay, { curve: { secretKeyFile: alice.secretFile } });
      expect(await vault.echo(SECRET)).toBe(SECRET);
      expect(relay.captured().includes(SECRET), encrypted ? "encrypted" : "plain").toBe(!encrypted);
    }
  });

  it("works through an encrypted nameserver: registration, lookup and the stored key", async () => {
    const ns = await startNameServer({ port: 0, broadcast: false, curve: { secretKeyFile: server.secretFile, authorizedClients: clients } });
    use.onCleanup(() => ns.close());
    const address = ns.uri.split("@")[1]!.split("?")[0]!;
    const options = { ns: address, nsKey: readPublic(server.publicFile), curve: { secretKeyFile: alice.secretFile } };
    // The daemon is the nameserver's client: it needs the nameserver's key and a key of its own.
    const daemon = await serve({ "lab.vault": new Vault() }, { ns: options, curve: { secretKeyFile: server.secretFile, authorizedClients: clients } });
    use.onCleanup(() => daemon.close());
    const nameserver = await locateNs(options);
    use.onCleanup(() => nameserver.$close());
    expect(await nameserver.lookup("lab.vault")).toBe(daemon.uriFor("lab.vault"));
    const vault = await lookup<Vault>("lab.vault", options);
    use.onCleanup(() => vault.$close());
    expect(await vault.echo("through the nameserver")).toBe("through the nameserver");
    await expect(locateNs({ ns: address, nsKey: readPublic(server.publicFile), curve: { secretKeyFile: mallory.secretFile } })).rejects.toThrow(SecurityError);
  });

  it("a daemon without authorized folder admits any client that knows its key", async () => {
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, curve: { secretKeyFile: server.secretFile } });
    use.onCleanup(() => daemon.close());
    const uri = daemon.register(new Vault(), "vault");
    await daemon.start();
    const vault = await use.connect<Vault>(uri, { maxMessageSize: 2 << 20 }); // a fresh key pair
    expect(await vault.echo(1)).toBe(1);
  });
});

function readPublic(file: string): string {
  return /public-key = "(.{40})"/.exec(readFileSync(file, "utf8"))![1]!;
}
