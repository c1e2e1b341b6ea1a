"""The Python Pyro5 client of the Pyro5 bench (bench/pyro5-benchmarks.ts): the baseline.

usage: echo_client.py URI SERIALIZER THREADS PAYLOAD
Starts THREADS threads, each with a proxy of its own (Pyro5 proxies belong to one thread) set to
SERIALIZER (json or serpent), connected and warmed up, then prints "READY Python <version>".
Each line on stdin is a number of calls: the threads make them together (each its share, one
call at a time) and one JSON line {"calls": n, "seconds": s, "perSecond": r, "cpuSeconds": c}
is printed, timed from the moment the threads are released to the moment the last one is done;
c is the CPU time (user+sys) of the whole process meanwhile. Pyro5's defaults otherwise (no
call timeout: the bench bounds each round itself). Ends at the end of stdin, e.g.
    echo 10000 | python3 echo_client.py PYRO:echo@127.0.0.1:PORT json 1 hello
"""
import json
import platform
import sys
import threading
import time

import Pyro5.api

WARMUP_CALLS = 200

uri, serializer, threads, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
start = threading.Barrier(threads + 1)
done = threading.Barrier(threads + 1)
shares = [0] * threads
errors = []


def worker(index):
    try:
        with Pyro5.api.Proxy(uri) as proxy:
            proxy._pyroSerializer = serializer
            for _ in range(WARMUP_CALLS):
                assert proxy.echo(payload) == payload
            start.wait()
            done.wait()
            while True:
                start.wait()
                count = shares[index]
                if count < 0:
                    return
                for _ in range(count):
                    proxy.echo(payload)
                done.wait()
    except threading.BrokenBarrierError:
        return
    except Exception as e:  # noqa: BLE001 - reported to the bench, which fails
        errors.append(f"{type(e).__name__}: {e}")
        start.abort()
        done.abort()


def main():
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    try:
        # Every proxy connected and warmed up before the first round.
        start.wait()
        done.wait()
        print("READY", "Python", platform.python_version(), flush=True)
        for line in sys.stdin:
            calls = int(line)
            for i in range(threads):
                shares[i] = calls // threads + (1 if i < calls % threads else 0)
            began, cpu = time.perf_counter(), time.process_time()
            start.wait()
            done.wait()
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
            print(json.dumps({"calls": calls, "seconds": seconds, "perSecond": calls / seconds, "cpuSeconds": cpu}), flush=True)
        for i in range(threads):
            shares[i] = -1
        start.wait()
    except threading.BrokenBarrierError:
        sys.exit("echo_client.py: " + "; ".join(errors or ["a thread failed"]))


if __name__ == "__main__":
    main()
