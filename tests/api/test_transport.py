"""
The transport and the request gate, on raw sockets against the real daemon:

- HEAD answers the headers GET would send (same Content-Length), no body, and the
  keep-alive connection goes on: a GET on the same connection is answered.
- Every refusal of the transport is application/problem+json: 413 at any size
  (just above the limit, 10 MB, a 100 MB Content-Length answered before the body
  is sent, a chunked body stopped at the limit), 400 for a malformed request line
  or header, 414 for a long target, 431 for too many header bytes, 405 for CONNECT
  and 501 for an unknown method, both closing the connection.
- The connection cap (max_connections = 8): a new connection evicts the one that has
  waited longest without completing a request (a trickling request first, then the
  oldest idle one; a connection that just completed a request goes to the back).
- A request must arrive whole within request_timeout_ms even if bytes keep coming
  (408, then closed), while a normal client is served; an idle keep-alive is closed
  after keepalive_timeout_ms.
- Out of descriptors (ulimit -n 64 and max_connections above it): accepting pauses
  instead of spinning (little CPU), the log says so about once a second with a
  count, never per attempt, and the daemon serves again once the connections go;
  without max_connections the cap is three quarters of the descriptor limit.
- Attempts without a valid token are counted (siaod_unauthenticated_total) and
  written as one audit row per client address and minute with their count; a 403 of
  a known token keeps one row each.
- X-Forwarded-For names the client in the audit only when the peer is in
  trusted_proxies.
- audit_retention_months: on SIGHUP (the scheduler's run) audit rows older than it
  are deleted, younger ones kept.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, Database, eventually, expect, expect_problem, run_all, test  # noqa: E402

DB = None
D = None            # request_timeout_ms 1500, keepalive_timeout_ms 1000, max_connections 8
PROXIED = None      # trusted_proxies = 127.0.0.0/8, 10.0.0.0/8
UNTRUSTING = None   # trusted_proxies = 10.0.0.0/8: the local peer is not trusted
ADMIN = None
REF = None
MAX_BODY = 1048576
REQUEST_MS = 1500
KEEPALIVE_MS = 1000
CAP = 8


def setup():
    global DB, D, PROXIED, UNTRUSTING, ADMIN, REF
    DB = Database("transport")
    D = Daemon(DB, env={"SIAOD_REQUEST_TIMEOUT_MS": str(REQUEST_MS),
                        "SIAOD_KEEPALIVE_TIMEOUT_MS": str(KEEPALIVE_MS),
                        "SIAOD_MAX_CONNECTIONS": str(CAP)}, name="transport")
    PROXIED = Daemon(DB, env={"SIAOD_TRUSTED_PROXIES": "127.0.0.0/8, 10.0.0.0/8"}, name="proxied")
    UNTRUSTING = Daemon(DB, env={"SIAOD_TRUSTED_PROXIES": "10.0.0.0/8"}, name="untrusting")
    ADMIN = D.token("admin", label="admin")
    REF = D.token("referent", departements=["34"], label="ref")


# ---------------------------------------------------------------- raw HTTP

def connect(d=None, timeout=5):
    return socket.create_connection(("127.0.0.1", (d or D).port), timeout=timeout)


def read_head(s, timeout=5):
    """Reads one response's status line and headers (nothing after them):
    (status, {lower-case name: value}, bytes read beyond the head)."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "closed before a complete head: %r" % data[:300]
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0])
    assert m, "not a status line: %r" % lines[0]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, rest


def read_response(s, timeout=5):
    """One whole response: (status, headers, body)."""
    status, headers, rest = read_head(s, timeout)
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        assert chunk, "closed in the middle of a body"
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def closed_within(s, seconds):
    """True when the server closes s within seconds (whatever it sent before)."""
    s.settimeout(seconds)
    try:
        while True:
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def still_open(s):
    """Nothing to read and not closed: the server kept the connection."""
    s.settimeout(0.2)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except socket.timeout:
        return True
    except ConnectionResetError:
        return False


def expect_problem_bytes(status, headers, body, want, slug=None):
    assert status == want, "expected %d, got %d %r" % (want, status, body[:200])
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    assert headers.get("x-request-id"), headers
    p = json.loads(body)
    assert p["status"] == want and p["type"].startswith("/problems/") and p["title"] and p["detail"], p
    if slug:
        assert p["type"] == "/problems/" + slug, p
    return p


def refusal(data, want, slug=None, closes=True):
    """Sends data on a new connection, reads the problem answer and (when closes)
    checks the connection is then closed."""
    s = connect()
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, body, _ = read_response(s)
        p = expect_problem_bytes(status, headers, body, want, slug)
        if closes:
            assert headers.get("connection", "").lower() == "close", headers
            assert closed_within(s, 3), "the connection stayed open after %d" % want
        return p
    finally:
        s.close()


# ---------------------------------------------------------------- HEAD

@test
def head_answers_headers_only_and_the_connection_goes_on():
    for path, token in (("/healthz", None), ("/v1/me", ADMIN)):
        auth = "Authorization: Bearer %s\r\n" % token if token else ""
        s = connect()
        try:
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, auth)).encode())
            st, gh, gbody, extra = read_response(s)
            assert st == 200 and gbody and not extra, (st, gbody)
            s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, auth)).encode())
            st, hh, rest = read_head(s)
            assert st == 200, st
            assert hh.get("content-length") == str(len(gbody)), (hh, len(gbody))
            assert hh.get("content-type") == gh.get("content-type"), (hh, gh)
            # no body follows: the next bytes on the connection are the next answer's
            time.sleep(0.3)
            s.settimeout(0.2)
            try:
                more = s.recv(65536)
            except socket.timeout:
                more = b""
            assert rest == b"" and more == b"", "HEAD sent a body: %r" % (rest + more)[:200]
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, auth)).encode())
            st, _, body, _ = read_response(s)
            assert st == 200 and body == gbody, (st, body[:100])
        finally:
            s.close()


# ---------------------------------------------------------------- problem+json everywhere

def post_head(length=None, chunked=False, expect_continue=False):
    h = "POST /v1/offers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" \
        "Content-Type: application/json\r\n" % ADMIN
    if length is not None:
        h += "Content-Length: %d\r\n" % length
    if chunked:
        h += "Transfer-Encoding: chunked\r\n"
    if expect_continue:
        h += "Expect: 100-continue\r\n"
    return (h + "\r\n").encode()


@test
def bodies_above_the_limit_are_413_problem_json_at_any_size():
    # just above the limit, body sent whole
    refusal(post_head(MAX_BODY + 1) + b" " * (MAX_BODY + 1), 413, "body-too-large")
    # 10 MB and 100 MB announced: answered on the headers alone, before any body byte
    for size in (10 << 20, 100 << 20):
        s = connect()
        try:
            t0 = time.monotonic()
            s.sendall(post_head(size))
            st, h, body, _ = read_response(s)
            expect_problem_bytes(st, h, body, 413, "body-too-large")
            assert time.monotonic() - t0 < 1, "413 for %d bytes took %.1f s" % (size, time.monotonic() - t0)
            assert h.get("connection", "").lower() == "close", h
            assert closed_within(s, 3)
        finally:
            s.close()
    # chunked: stopped at the limit, while the client is still sending
    s = connect()
    try:
        s.sendall(post_head(chunked=True))
        piece = b" " * 65536
        sent = 0
        answered = None
        try:
            while sent < 4 * MAX_BODY:
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answered = read_response(s)
        st, h, body, _ = answered
        expect_problem_bytes(st, h, body, 413, "body-too-large")
    finally:
        s.close()
    # a body within the limit still goes through (and is judged as JSON)
    s = connect()
    try:
        s.sendall(post_head(chunked=True) + b"2\r\n{}\r\n0\r\n\r\n")
        st, h, body, _ = read_response(s)
        assert st == 400 and h["content-type"].startswith("application/problem+json"), (st, body)
    finally:
        s.close()
    expect(D.call("GET", "/healthz"), 200)


@test
def malformed_requests_get_problem_json_400():
    for bad in (b"GARBAGE\r\n\r\n",
                b"GET /healthz HTTP/9z\r\nHost: x\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\nContent-Length: 12ab\r\n\r\n",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):   # a TLS hello
        refusal(bad, 400, "bad-request")
    # a target above max_header_bytes: 414; header bytes above it: 431
    refusal(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri-too-long")
    refusal(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 20000 + b"\r\n\r\n",
            431, "headers-too-large")
    refusal(b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n",
            431, "headers-too-large")
    expect(D.call("GET", "/healthz"), 200)


@test
def connect_and_unknown_methods_are_answered_then_closed():
    for target in (b"siaod:443", b"/healthz"):
        refusal(b"CONNECT " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method-not-allowed")
    for method in (b"FOO", b"PROPFIND", b"BREW"):
        refusal(method + b" /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not-implemented")
    expect(D.call("GET", "/healthz"), 200)


# ---------------------------------------------------------------- the connection cap

def metric(d, name):
    text = expect(d.call("GET", "/metrics"), 200).text
    m = re.search(r"^%s (\d+)" % re.escape(name), text, re.M)
    assert m, "no %s in /metrics" % name
    return int(m.group(1))


@test
def at_the_cap_the_longest_waiting_connection_is_evicted():
    before = metric(D, 'siaod_http_connections_total{event="evicted"}')
    socks = []
    try:
        # a: a trickling request (first); b: idle; c: completes a request, so it
        # has waited least; then idle ones up to the cap
        a = connect()
        a.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.05)
        b = connect()
        time.sleep(0.05)
        c = connect()
        time.sleep(0.05)
        socks += [a, b, c]
        while len(socks) < CAP:
            socks.append(connect())
            time.sleep(0.02)
        time.sleep(0.1)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(c)[0] == 200
        # everyone is in: each new connection evicts the one waiting longest
        n1 = connect()
        n1.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(n1)[0] == 200, "the new connection was not served"
        assert closed_within(a, 1), "the trickling request was not evicted first"
        assert still_open(b) and still_open(c)
        n2 = connect()
        n2.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_response(n2)[0] == 200
        assert closed_within(b, 1), "the oldest idle connection was not evicted next"
        assert still_open(c), "a connection that just completed a request was evicted before older ones"
        socks += [n1, n2]
    finally:
        for s in socks:
            s.close()
    after = eventually(lambda: metric(D, 'siaod_http_connections_total{event="evicted"}') - before >= 2 and
                       metric(D, 'siaod_http_connections_total{event="evicted"}'), msg="evictions counted")
    assert after - before >= 2
    assert metric(D, "siaod_http_max_connections") == CAP


def limited_daemon(nofile, env, name):
    """A daemon started under `ulimit -n nofile` (a wrapper that execs it)."""
    wrapper = os.path.join(harness.WORKDIR, "ulimit-%d.sh" % nofile)
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nulimit -n %d || exit 97\nexec "%s" "$@"\n' % (nofile, harness.BIN))
    os.chmod(wrapper, 0o755)
    saved = harness.BIN
    harness.BIN = wrapper
    try:
        return Daemon(DB, env=env, name=name)
    finally:
        harness.BIN = saved


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@test
def out_of_descriptors_accepting_pauses_and_logs_once_a_second():
    d = limited_daemon(64, {"SIAOD_MAX_CONNECTIONS": "500", "SIAOD_REQUEST_TIMEOUT_MS": "3000"}, "nofile")
    socks = []
    try:
        expect(d.call("GET", "/healthz"), 200)
        mark = len(d.log_text())
        cpu0 = cpu_seconds(d.pid)
        t0 = time.monotonic()
        for _ in range(150):
            try:
                socks.append(socket.create_connection(("127.0.0.1", d.port), timeout=2))
            except OSError:
                break
        time.sleep(2)
        busy = cpu_seconds(d.pid) - cpu0
        elapsed = time.monotonic() - t0
        log = d.log_text()[mark:]
        lines = re.findall(r"event=accept .*count=(\d+).*", log)
        assert lines, "no accept error logged: %s" % log[-500:]
        assert len(lines) <= elapsed + 1, "%d accept lines in %.1f s: not once a second" % (len(lines), elapsed)
        assert sum(int(n) for n in lines) >= len(lines), lines
        assert busy < 0.5 * elapsed, "%.2f s of CPU in %.1f s: accepting spins" % (busy, elapsed)
    finally:
        for s in socks:
            s.close()
    # the connections gone, it serves again
    eventually(lambda: d.call("GET", "/healthz").status == 200, timeout=5, msg="served again")
    assert metric(d, "siaod_http_accept_errors_total") >= 1
    d.stop()


@test
def without_max_connections_the_cap_is_three_quarters_of_the_descriptor_limit():
    d = limited_daemon(1024, {}, "derived")
    try:
        assert metric(d, "siaod_http_max_connections") == 768
    finally:
        d.stop()


# ---------------------------------------------------------------- deadlines

@test
def a_trickling_request_is_closed_at_its_deadline_while_others_are_served():
    s = connect()
    stop = threading.Event()
    served = []

    def normal_client():
        while not stop.is_set():
            t0 = time.monotonic()
            r = D.call("GET", "/healthz")
            served.append((r.status, time.monotonic() - t0))
            time.sleep(0.1)

    t = threading.Thread(target=normal_client)
    t.start()
    try:
        t0 = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        got = b""
        closed = False
        # a header byte every 100 ms: the deadline must not restart with each
        while time.monotonic() - t0 < REQUEST_MS / 1000 + 2:
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(0.1)
            try:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                got += chunk
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                break
        took = time.monotonic() - t0
        assert closed or got, "the trickle was never cut off"
        assert took < REQUEST_MS / 1000 + 1, "cut off after %.1f s" % took
        assert took > REQUEST_MS / 1000 - 0.3, "cut off too early, after %.1f s" % took
        if got:
            assert got.startswith(b"HTTP/1.1 408 ") and b"application/problem+json" in got, got[:200]
    finally:
        stop.set()
        t.join()
        s.close()
    assert served and all(st == 200 and dt < 0.5 for st, dt in served), served


@test
def an_idle_keep_alive_is_closed_after_keepalive_timeout_ms():
    s = connect()
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        t0 = time.monotonic()
        assert closed_within(s, KEEPALIVE_MS / 1000 + 1.5), "the idle keep-alive stayed open"
        took = time.monotonic() - t0
        assert KEEPALIVE_MS / 1000 - 0.3 < took < KEEPALIVE_MS / 1000 + 1, took
    finally:
        s.close()
    # a connection that never sends a request has the request deadline
    s = connect()
    try:
        t0 = time.monotonic()
        assert closed_within(s, REQUEST_MS / 1000 + 1.5)
        assert time.monotonic() - t0 > REQUEST_MS / 1000 - 0.3
    finally:
        s.close()


# ---------------------------------------------------------------- the audit of noise

@test
def with_listen_reuse_port_two_processes_share_one_port():
    # the kernel spreads new connections over both (SO_REUSEPORT): the
    # request ids, prefixed by each process's instance id, show two
    # processes answering; without the setting, a second process cannot
    # bind a port in use and says why
    env = {"SIAOD_LISTEN_REUSE_PORT": "true"}
    a = Daemon(DB, env=env, name="reuse-a")
    b = Daemon(DB, env=env, name="reuse-b", start=False)
    b.port = a.port
    b.start()
    try:
        prefixes = set()
        deadline = time.monotonic() + 15
        while len(prefixes) < 2 and time.monotonic() < deadline:
            s = connect(a)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status, headers, _, _ = read_response(s)
            s.close()
            assert status == 200, status
            prefixes.add(headers["x-request-id"].rsplit("-", 1)[0])
        assert len(prefixes) == 2, prefixes
        assert b.running() and a.running()
        # run by hand: its readiness check would be answered by a or b
        c = Daemon(DB, name="reuse-c", start=False)
        c.port = a.port
        done = subprocess.run([harness.BIN], env=c.env(), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30)
        assert done.returncode != 0, done.returncode
        out = done.stderr + done.stdout
        assert b"cannot listen" in out, out[-500:]
    finally:
        b.stop()
        a.stop()


def audit_rows(where):
    return DB.sql("SELECT coalesce(host(client), '-'), attempts, status, outcome, "
                  "coalesce(request_id, '') FROM audit WHERE " + where + " ORDER BY id")


@test
def unauthenticated_noise_is_one_audit_row_per_address_and_minute():
    before = metric(D, "siaod_unauthenticated_total")
    # a fresh address through the trusted proxy, so no other test's rows mix in
    addr = "192.0.2.41"
    n = 0
    for i in range(40):
        token = None if i % 2 else "siaod_wrong_%d" % i
        r = PROXIED.call("GET", "/v1/offers", token, headers={"X-Forwarded-For": addr})
        expect_problem(r, 401)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
        n += 1

    def rows():
        got = audit_rows("client = '%s'" % addr)
        return got if sum(int(x.split("|")[1]) for x in got) == n else None

    got = eventually(rows, timeout=8, msg="%d attempts counted in the audit" % n)
    # one row per minute (two if the test crossed a minute boundary), each with its count
    assert 1 <= len(got) <= 2, got
    for row in got:
        client, attempts, status, outcome, rid = row.split("|")
        assert client == addr and status == "401" and outcome == "unauthenticated" and rid, row
    minutes = DB.sql("SELECT count(DISTINCT at) FROM audit WHERE client = '%s'" % addr)
    assert minutes == [str(len(got))], minutes
    # counted in the metrics of the daemon that refused them
    assert metric(PROXIED, "siaod_unauthenticated_total") >= n
    assert metric(D, "siaod_unauthenticated_total") >= before
    # and listed with their count by GET /v1/audit
    items = expect(PROXIED.call("GET", "/v1/audit?limit=200", ADMIN), 200).json["items"]
    mine = [a for a in items if a.get("client") == addr]
    assert mine and sum(a["attempts"] for a in mine) == n, mine


@test
def a_refusal_of_a_known_token_keeps_its_own_row():
    start = DB.sql("SELECT coalesce(max(id), 0) FROM audit")[0]
    for _ in range(3):
        expect_problem(D.call("POST", "/v1/porteurs", REF, {"name": "X", "departement": "34"}), 403)

    def rows():
        got = audit_rows("id > %s AND outcome = 'denied' AND action = 'porteur.create'" % start)
        return got if len(got) == 3 else None

    got = eventually(rows, msg="three denied rows")
    assert all(r.split("|")[1] == "1" and r.split("|")[2] == "403" for r in got), got


@test
def x_forwarded_for_counts_only_from_a_trusted_peer():
    cases = [
        # daemon, X-Forwarded-For, the client the audit must show
        (PROXIED, "198.51.100.7", "198.51.100.7"),
        (PROXIED, "198.51.100.8, 10.1.2.3", "198.51.100.8"),       # two trusted hops
        (PROXIED, "198.51.100.9, 203.0.113.5", "203.0.113.5"),     # 203.0.113.5 is not trusted
        (PROXIED, "not-an-address", "127.0.0.1"),
        (UNTRUSTING, "198.51.100.10", "127.0.0.1"),               # the peer is not a trusted proxy
        (D, "198.51.100.11", "127.0.0.1"),                        # no trusted_proxies at all
    ]
    start = DB.sql("SELECT coalesce(max(id), 0) FROM audit")[0]
    marks = {}
    for d, xff, want in cases:
        r = d.call("GET", "/v1/youth", None, headers={"X-Forwarded-For": xff})
        expect_problem(r, 401)
        marks.setdefault((d.name, want), []).append(r.headers["X-Request-Id"])

    def rows():
        got = audit_rows("id > %s AND outcome = 'unauthenticated'" % start)
        return got if sum(int(x.split("|")[1]) for x in got) >= len(cases) else None

    eventually(rows, timeout=8, msg="the attempts in the audit")
    for (name, want), rids in marks.items():
        # each daemon's first attempt of the minute names the row it counts in;
        # the attempts are found by client address
        got = DB.sql("SELECT coalesce(sum(attempts), 0) FROM audit WHERE id > %s AND "
                     "outcome = 'unauthenticated' AND host(client) = '%s'" % (start, want))
        assert int(got[0]) >= len(rids), (name, want, got)
    for spoofed in ("198.51.100.10", "198.51.100.11", "not-an-address"):
        assert DB.sql("SELECT count(*) FROM audit WHERE host(client) = '%s'" % spoofed) in (["0"],), spoofed


# ---------------------------------------------------------------- retention

@test
def audit_rows_older_than_audit_retention_months_are_deleted():
    old = DB.sql("INSERT INTO audit (at, action, outcome, status) VALUES "
                 "(now() - interval '13 months', 'test.old', 'ok', 200) RETURNING id")[0]
    young = DB.sql("INSERT INTO audit (at, action, outcome, status) VALUES "
                   "(now() - interval '11 months', 'test.young', 'ok', 200) RETURNING id")[0]
    D.reload()   # the scheduler's run, retention included (default 12 months)

    def gone():
        return DB.sql("SELECT count(*) FROM audit WHERE id = %s" % old) == ["0"]

    eventually(gone, msg="the 13-month-old audit row deleted")
    assert DB.sql("SELECT count(*) FROM audit WHERE id = %s" % young) == ["1"], "a younger row went too"


run_all(setup)
