#!/usr/bin/python3
"""Latency probe for the loop benchmark (run_loop_bench.sh).

    probe.py BASE TOKEN OUT [PATH]...

Every 50 ms, one GET of each PATH (default /healthz and /v1/offers?limit=50)
on its own keep-alive connection, until SIGTERM; each answer is one line of
OUT: "<unix time> <path> <status> <latency ms>". A call that fails (refused,
reset, timeout) is written with status 0 and its time until the failure.
`probe.py --summary OUT FROM TO` prints, per path, the count, p50, p99 and
worst latency of the lines between the two unix times, and the failures.
"""
import http.client
import signal
import sys
import time
import urllib.parse

PERIOD = 0.050


def probe(base, token, out, paths):
    u = urllib.parse.urlparse(base)
    conns = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "a", buffering=1) as f:
        nxt = time.monotonic()
        while not stop:
            for p in paths:
                c = conns.get(p)
                if c is None:
                    c = conns[p] = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                t = time.monotonic()
                try:
                    hdrs = {"Authorization": "Bearer " + token} if p.startswith("/v1") else {}
                    c.request("GET", p, headers=hdrs)
                    r = c.getresponse()
                    r.read()
                    status = r.status
                except Exception:
                    status = 0
                    c.close()
                    conns.pop(p, None)
                f.write("%.3f %s %d %.2f\n" % (time.time(), p, status, (time.monotonic() - t) * 1000))
            nxt += PERIOD
            time.sleep(max(0.0, nxt - time.monotonic()))


def pct(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def summary(out, t0, t1):
    by = {}
    fails = {}
    for line in open(out):
        ts, path, status, ms = line.split()
        if not (t0 <= float(ts) <= t1):
            continue
        by.setdefault(path, []).append(float(ms))
        if status == "0" or not status.startswith("2"):
            fails[path] = fails.get(path, 0) + 1
    for path, v in sorted(by.items()):
        print("%-28s n=%-5d p50=%7.1f ms  p99=%7.1f ms  worst=%7.1f ms  failed=%d" % (
            path, len(v), pct(v, 0.50), pct(v, 0.99), max(v), fails.get(path, 0)))


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        probe(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:] or ["/healthz", "/v1/offers?limit=50"])
