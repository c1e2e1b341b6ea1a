import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests spawn child processes and bind sockets; keep parallelism modest on 2 cores.
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 5_000,
    // Nameserver discovery in tests (and the child processes they start) never leaves loopback.
    // Pid files of the nameservers tests run go to a folder of their own, not the user's.
    env: { PYRO_TS_BROADCAST: "127.255.255.255", PYRO_TS_RUN_DIR: join(tmpdir(), "pyro-ts-test-run") },
  },
});
