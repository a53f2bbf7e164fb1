#!/usr/bin/python3
"""
Connection load for run_conn_bench.sh: holds many bad connections against a
siaod while a probe measures GET /healthz on a NEW connection every 50 ms.

    conn_load.py PORT trickle N SECONDS   N connections sending one header byte
                                          every 5 s (no token), reopened when
                                          the server closes them
    conn_load.py PORT idle N SECONDS      N connections that send nothing
                                          (opened by child processes of at most
                                          9,000 each: the descriptor limit)

Prints one JSON line: the probe's calls, failures (no answer within 1 s),
worst and p99 latency in ms, how many load connections were opened and how
many the server closed.
"""
import json
import multiprocessing
import os
import resource
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def probe(port, stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        ok = False
        try:
            s = socket.create_connection((HOST, port), timeout=1)
            s.settimeout(max(0.01, 1 - (time.monotonic() - t0)))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            ok = data.startswith(b"HTTP/1.1 200 ")
            s.close()
        except OSError:
            ok = False
        dt = time.monotonic() - t0
        out.append((ok and dt <= 1.0, dt))
        time.sleep(max(0, 0.05 - dt))


def trickle(port, n, seconds, counts):
    socks = []
    deadline = time.monotonic() + seconds
    line = b"GET /v1/offers HTTP/1.1\r\nHost: x\r\nX-Slow: "

    def opened():
        try:
            s = socket.create_connection((HOST, port), timeout=2)
            s.setblocking(False)
            counts["opened"] += 1
            return [s, 0]
        except OSError:
            counts["refused"] += 1
            return None

    while len(socks) < n and time.monotonic() < deadline:
        c = opened()
        if c:
            socks.append(c)
    while time.monotonic() < deadline:
        for i, c in enumerate(socks):
            if c is None:
                socks[i] = opened()
                continue
            s, pos = c
            try:
                s.send(line[pos:pos + 1] if pos < len(line) else b"a")
                c[1] = pos + 1
            except OSError:
                counts["closed_by_server"] += 1
                s.close()
                socks[i] = opened()
        time.sleep(5)
    for c in socks:
        if c:
            c[0].close()


def idle_child(port, n, seconds, q):
    raise_nofile()
    socks, refused = [], 0
    for _ in range(n):
        try:
            socks.append(socket.create_connection((HOST, port), timeout=2))
        except OSError:
            refused += 1
    time.sleep(max(0, seconds))
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    q.put((len(socks), refused, closed))


def main():
    port, mode, n, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    raise_nofile()
    stop = threading.Event()
    results = []
    counts = {"opened": 0, "refused": 0, "closed_by_server": 0}
    t = threading.Thread(target=probe, args=(port, stop, results))
    t.start()
    if mode == "trickle":
        trickle(port, n, seconds, counts)
    else:
        q = multiprocessing.Queue()
        kids = []
        left = n
        while left > 0:
            k = min(9000, left)
            p = multiprocessing.Process(target=idle_child, args=(port, k, seconds, q))
            p.start()
            kids.append(p)
            left -= k
        for _ in kids:
            o, r, c = q.get()
            counts["opened"] += o
            counts["refused"] += r
            counts["closed_by_server"] += c
        for p in kids:
            p.join()
    stop.set()
    t.join()
    lat = sorted(dt for _, dt in results)
    print(json.dumps({
        "mode": mode, "connections": n, "seconds": seconds,
        "probe_calls": len(results), "probe_failures": sum(1 for ok, _ in results if not ok),
        "probe_worst_ms": round(1e3 * lat[-1], 1) if lat else None,
        "probe_p99_ms": round(1e3 * lat[int(0.99 * (len(lat) - 1))], 1) if lat else None,
        "probe_median_ms": round(1e3 * lat[len(lat) // 2], 1) if lat else None,
        **counts}))


if __name__ == "__main__":
    main()
