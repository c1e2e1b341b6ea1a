/**
 * `pyro-ts call` on a method whose result is streamed (issue #13): items printed as they come,
 * one line each (`--json`: one JSON line each), the generator's error after the items before it,
 * --timeout per item, Ctrl-C and a closed stdout stopping the daemon's generator.
 *
 * Real child processes from dist/ (build first): a nameserver, test/fixtures/spectrometer.ts
 * serving "lab.spectrometer", and the CLI. Loopback only, in a temp working directory without
 * PYRO_TS_NS / PYRO_TS_CONFIG. Every child is killed after its test, or after the file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, type Remote } from "../src/index.js";
import { CLI, fixture, pollFor } from "./host-processes.js";
import { NodeChild, type Exit } from "./node-child.js";
import type { Spectrometer } from "./fixtures/spectrometer.js";

/** Longer than any wait below; the daemon drops a silent connection (and its streams) only after 6 s. */
const TEST_MS = 20_000;

let work: string;
let ns: string;
let server: NodeChild;
let spectrometer: Remote<Spectrometer>;
const shared: NodeChild[] = [];
const perTest: NodeChild[] = [];

function env(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PYRO_TS_NS;
  delete env.PYRO_TS_CONFIG;
  env.PYRO_TS_BROADCAST ??= "127.255.255.255";
  return env;
}

function start(list: NodeChild[], script: string, args: string[]): NodeChild {
  const child = new NodeChild(`${script.slice(script.lastIndexOf("/") + 1)} ${args.join(" ")}`, script, args, { cwd: work, env: env() });
  list.push(child);
  return child;
}

/** `pyro-ts call lab.spectrometer ...args`, running (stdin an empty pipe: not a TTY). */
function cli(...args: string[]): NodeChild {
  const child = start(perTest, CLI, ["call", "lab.spectrometer", ...args, "--ns", ns]);
  child.process.stdin!.end();
  return child;
}

interface Result {
  readonly exit: Exit;
  readonly lines: readonly string[];
  readonly stdout: string;
  readonly stderr: string;
}

/** `pyro-ts call lab.spectrometer ...args` to its end (bounded). */
async function call(...args: string[]): Promise<Result> {
  const child = cli(...args);
  const exit = await child.expectExit(10_000);
  return { exit, lines: child.lines, stdout: child.lines.map((line) => `${line}\n`).join(""), stderr: child.stderr };
}

/** Resolves once the daemon's endless() generators stopped so far reach `count`; fails after `ms`. */
function stoppedReaches(count: number, ms: number): Promise<number> {
  return pollFor(`${count} endless() generators stopped`, ms, async () => {
    const stopped = await spectrometer.stopped();
    return stopped >= count ? stopped : undefined;
  });
}

async function killAll(children: NodeChild[]): Promise<void> {
  for (const child of children.splice(0).reverse()) await child.kill("SIGKILL").catch(() => {});
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "pyro-ts-cli-stream-"));
  const nameserver = start(shared, CLI, ["nameserver", "--port", "0", "--bcport", "0", "--bchost", "127.0.0.1"]);
  const running = await nameserver.waitForLine((line) => line.startsWith("nameserver running at "), 8000, "the nameserver's URI");
  ns = `127.0.0.1:${/:(\d+)$/.exec(running)![1]}`;
  server = start(shared, fixture("spectrometer"), ["--ns", ns]);
  const served = await server.waitForLine((line) => line.startsWith("lab.spectrometer served at "), 8000, "the spectrometer's URI");
  spectrometer = await connect<Spectrometer>(served.slice("lab.spectrometer served at ".length), { timeout: 5000 });
}, TEST_MS);

afterEach(async () => {
  await killAll(perTest);
});

afterAll(async () => {
  await spectrometer?.$close().catch(() => {});
  await killAll(shared);
  if (work) rmSync(work, { recursive: true, force: true });
}, TEST_MS);

describe("pyro-ts call on a streamed result", () => {
  it("prints each item on a line of its own, in order, and exits 0 when the stream ends", async () => {
    const [human, json, none] = await Promise.all([call("readings", "5"), call("readings", "5", "--json"), call("readings", "0")]);
    expect(human).toMatchObject({ exit: { code: 0, signal: null }, stdout: "0.5\n1.5\n2.5\n3.5\n4.5\n", stderr: "" });
    expect(json).toMatchObject({ exit: { code: 0, signal: null }, stdout: "0.5\n1.5\n2.5\n3.5\n4.5\n", stderr: "" });
    expect(none).toMatchObject({ exit: { code: 0, signal: null }, stdout: "", stderr: "" });
  }, TEST_MS);

  it("--json: one parseable JSON line per item; bytes as base64, as the command prints a binary result", async () => {
    const [json, human, bytes] = await Promise.all([call("samples", "--json"), call("samples"), call("bytes", "--json")]);
    expect(json.exit.code).toBe(0);
    expect(json.stderr).toBe("");
    expect(json.lines).toHaveLength(5);
    const items = json.lines.map((line) => JSON.parse(line) as unknown);
    expect(items).toEqual([1, "two words", { nm: 532, tags: ["green", "laser"], on: true }, { base64: "AQL/" }, null]);
    // The same JSON as the single result of a method returning those bytes, on one line.
    expect(items[3]).toEqual(JSON.parse(bytes.stdout));
    // Without --json: strings as they are, bytes summarised, anything else as JSON, one line each.
    expect(human).toMatchObject({ exit: { code: 0 }, stderr: "" });
    expect(human.lines).toEqual(["1", "two words", '{"nm":532,"tags":["green","laser"],"on":true}', "<3 bytes: 01 02 ff>", "null"]);
  }, TEST_MS);

  it("prints items as they come, not all at the end", async () => {
    const child = cli("slow", "5", "300");
    await child.line(0, 8000);
    const first = Date.now();
    // The generator has more to produce (1.2 s more): the line was not held back until its end.
    expect(server.lines.filter((line) => line === "slow finished")).toHaveLength(0);
    expect(child.running).toBe(true);
    expect(child.lines.length).toBeLessThan(5);
    await child.line(4, 8000);
    const last = Date.now();
    expect(last - first).toBeGreaterThanOrEqual(800);
    expect(await child.expectExit(5000)).toEqual({ code: 0, signal: null });
    expect(child.lines).toEqual(["0", "1", "2", "3", "4"]);
    expect(child.stderr).toBe("");
  }, TEST_MS);

  it("a generator that throws: the items before it, then the error as call reports errors (exit 1)", async () => {
    const [human, json] = await Promise.all([call("failing", "2"), call("failing", "2", "--json")]);
    for (const result of [human, json]) {
      expect(result.exit).toEqual({ code: 1, signal: null });
      expect(result.lines).toEqual(["0", "1"]);
      expect(result.stderr).toBe("pyro-ts: remote RangeError: detector saturated\n");
    }
  }, TEST_MS);

  it("--timeout bounds each wait for an item, not the whole stream", async () => {
    const [patient, stalled] = await Promise.all([
      // 1.2 s in all, 300 ms between items.
      call("slow", "5", "300", "--timeout", "800"),
      call("slow", "3", "3000", "--timeout", "500"),
    ]);
    expect(patient).toMatchObject({ exit: { code: 0, signal: null }, stdout: "0\n1\n2\n3\n4\n", stderr: "" });
    expect(stalled.exit).toEqual({ code: 1, signal: null });
    expect(stalled.lines).toEqual(["0"]);
    expect(stalled.stderr).toMatch(/^pyro-ts: TimeoutError: no item of .*slow.* within 500 ms\n$/);
  }, TEST_MS);

  it("Ctrl-C (SIGINT) stops an endless stream and the daemon's generator, exit 130", async () => {
    const before = await spectrometer.stopped();
    const child = cli("endless");
    await child.line(3, 8000);
    const interrupted = Date.now();
    child.signal("SIGINT");
    expect(await child.expectExit(3000)).toEqual({ code: 130, signal: null });
    expect(Date.now() - interrupted).toBeLessThan(2000);
    expect(child.stderr).toBe("");
    expect(child.lines.slice(0, 4)).toEqual(["0", "1", "2", "3"]);
    // The cancel reached the daemon: its generator's finally ran well before the 6 s after
    // which the daemon would drop the CLI's silent connection anyway.
    expect(await stoppedReaches(before + 1, 2000)).toBe(before + 1);
    await server.waitForLine((line) => line === "endless stopped", 2000, "the generator's finally");
  }, TEST_MS);

  it("a reader that goes away (`| head`) stops the stream too, quietly", async () => {
    const before = await spectrometer.stopped();
    const child = cli("endless");
    await child.line(1, 8000);
    child.process.stdout!.destroy();
    expect(await child.expectExit(3000)).toEqual({ code: 0, signal: null });
    expect(child.stderr).toBe("");
    expect(await stoppedReaches(before + 1, 2000)).toBe(before + 1);
  }, TEST_MS);

  it("a plain method still prints its single result as before", async () => {
    const [number, array, bytes] = await Promise.all([call("wavelength"), call("peaks"), call("bytes")]);
    expect(number).toMatchObject({ exit: { code: 0, signal: null }, stdout: "532\n", stderr: "" });
    // An array is a value, sent whole and printed as one (indented) result.
    expect(array).toMatchObject({ exit: { code: 0 }, stdout: `${JSON.stringify([405, 532, 633], null, 2)}\n` });
    expect(bytes).toMatchObject({ exit: { code: 0 }, stdout: "<3 bytes: 01 02 ff>\n" });
  }, TEST_MS);
});
