"""The Python Pyro5 daemon of the Pyro5 bench (bench/pyro5-benchmarks.ts).

usage: echo_daemon.py
Serves one exposed Echo (echo, and cpu for the bench) as object id "echo" on 127.0.0.1 (a free port) with Pyro5's defaults
(the thread server, both serializers accepted), prints "READY <uri>" and serves until killed.
"""
import time

import Pyro5.api


@Pyro5.api.expose
class Echo:
    def echo(self, value):
        return value

    def cpu(self):
        """CPU time (user+sys) of this process in µs, all threads: the bench's measure of the daemon's cost."""
        return time.process_time() * 1e6


def main():
    daemon = Pyro5.api.Daemon(host="127.0.0.1", port=0)
    uri = daemon.register(Echo(), "echo")
    print("READY", uri, flush=True)
    daemon.requestLoop()


if __name__ == "__main__":
    main()
