/**
 * Child process of the Pyro5 bench: a pyro-ts Daemon that also serves Python Pyro5 clients on a
 * port of its own (the `pyro5` option), with an object answering `echo(x)` as the Python
 * daemon's (bench/pyro5/echo_daemon.py) does. Prints one JSON line with the object's Pyro5 URI;
 * closes at the end of its stdin.
 */
import { Daemon, expose } from "../../src/index.js";

@expose
class Echo {
  echo(value: unknown): unknown {
    return value;
  }

  /** CPU time (user+sys) of this process in µs, as the Python daemon's cpu() measures its own. */
  cpu(): number {
    const { user, system } = process.cpuUsage();
    return user + system;
  }
}

const daemon = new Daemon({ host: "127.0.0.1", port: 0, pyro5: { port: 0 } });
daemon.register(new Echo(), "echo");
await daemon.start();
process.stdout.write(`${JSON.stringify({ uri: daemon.pyro5UriFor("echo") })}\n`);
process.stdin.resume();
process.stdin.once("end", () => void daemon.close());
