"""
PostgreSQL goes away under load, and comes back. On a private cluster (never
the shared one): siaod serves a steady flow of reads (GET /v1/offers,
GET /v1/youth/{id}/matches) and writes (POST /v1/offers, POST /v1/youth) from
threads; the cluster is stopped (pg_ctl stop -m fast) for longer than the
token cache lasts, then started again.

While it is down: reads keep answering 200 from the in-memory inventory,
writes answer 503 problem+json with Retry-After, /readyz answers 503; nothing
answers 500 and nothing hangs (every call has a short timeout). After the
restart the same siaod process (no restart of the daemon) takes writes and
answers /readyz 200 again within 5 s — the measured recovery time is printed
— and every write it acknowledged is in the database.
"""
import datetime
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Daemon, PrivateCluster, eventually, expect, expect_problem,  # noqa: E402
                     http_call, run_all, test)

PG = None
DB = None
D = None
ADMIN = REF = PT = None
P1 = None
YOUTH = []
TODAY = None
TIMEOUT = 5          # seconds a call may take, outage or not
RECOVERY_MAX = 5.0   # seconds from PostgreSQL accepting connections to a write acknowledged
DOWN_SECONDS = 12    # longer than the token cache (AUTH_CACHE_SECONDS = 10)


def setup():
    global PG, DB, D, ADMIN, REF, PT, P1, TODAY
    PG = PrivateCluster("outage")
    DB = PG.database("outage")
    D = Daemon(DB, name="main")
    TODAY = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    ADMIN = D.token("admin", label="admin")
    REF = D.token("referent", departements=("34",), label="ref34")
    P1 = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Habitat Sète", "departement": "34"}), 201).json["id"]
    PT = D.token("porteur", porteur=P1, label="pt1")
    for i in range(4):
        offer_body_ok = offer_body("Fixe %d" % i)
        expect(D.call("POST", "/v1/offers", PT, offer_body_ok), 201)
    for i in range(4):
        YOUTH.append(expect(D.call("POST", "/v1/youth", REF, youth_body("F-%d" % i)), 201).json["id"])


def offer_body(label):
    return {"kind": "iml", "label": label, "commune_insee": "34301", "capacity": 2}


def youth_body(ref):
    return {"ref": ref, "departement": "34", "birth_date": TODAY.replace(year=TODAY.year - 20, day=1).isoformat(),
            "gender": "female", "situation": "street", "commune_insee": "34301"}


# ---------------------------------------------------------------- load

class Load:
    """Threads that call the daemon until stopped, recording every exchange as
    (kind, t0, t1, status or exception, response)."""

    def __init__(self, daemon):
        self.d = daemon
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.records = []
        self.acked = {"offer": [], "youth": []}
        self.threads = []
        self.seq = 0

    def _next(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def _loop(self, kind, fn, pause):
        c = Client(self.d, timeout=TIMEOUT)
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                r, what = fn(c)
                err = None
            except Exception as e:           # a timeout or a dropped connection
                r, what, err = None, None, e
                c.close()
            t1 = time.monotonic()
            with self.lock:
                self.records.append((kind, t0, t1, r.status if r is not None else err, r))
                if r is not None and r.status == 201 and what:
                    self.acked[what].append(r.json["id"])
            time.sleep(pause)
        c.close()

    def start(self):
        def read_offers(c):
            return c.call("GET", "/v1/offers?limit=20", REF), None

        def read_matches(c):
            return c.call("GET", "/v1/youth/%d/matches" % YOUTH[self._next() % len(YOUTH)], REF), None

        def write_offer(c):
            return c.call("POST", "/v1/offers", PT, offer_body("charge %d" % self._next())), "offer"

        def write_youth(c):
            return c.call("POST", "/v1/youth", REF, youth_body("charge-%d" % self._next())), "youth"

        for kind, fn, pause in (("read", read_offers, 0.01), ("read", read_matches, 0.01),
                                ("read", read_matches, 0.01), ("write", write_offer, 0.02),
                                ("write", write_youth, 0.02)):
            t = threading.Thread(target=self._loop, args=(kind, fn, pause), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(TIMEOUT + 5)
        assert not any(t.is_alive() for t in self.threads), "a load thread is stuck"

    def between(self, a, b):
        """Exchanges that began at or after a and ended by b."""
        with self.lock:
            return [x for x in self.records if x[1] >= a and x[2] <= b]


def readyz():
    return http_call(D.port, "GET", "/readyz", timeout=TIMEOUT)


# ---------------------------------------------------------------- the outage

@test
def reads_from_memory_writes_503_and_back_within_5_s_of_postgresql():
    pid = D.pid
    load = Load(D)
    load.start()
    time.sleep(1.5)
    t_stop = time.monotonic()
    PG.stop("fast")
    t_down = time.monotonic()
    problems = []
    try:
        # /readyz says so at once (a real round trip, not a guess)
        r = eventually(lambda: (lambda r: r if r.status == 503 else None)(readyz()), timeout=3,
                       interval=0.05, msg="/readyz 503 once PostgreSQL is down")
        expect_problem(r, 503)
        assert int(r.headers.get("Retry-After", "0")) > 0, "503 without Retry-After: %r" % r.headers
        # an Idempotency-Key write refused while down is not remembered
        idem = {"Idempotency-Key": "outage-key-1"}
        r = D.call("POST", "/v1/offers", PT, offer_body("idem"), headers=idem, timeout=TIMEOUT)
        expect_problem(r, 503)
        # a token never seen before cannot be checked: 503, not 401 and not 500
        fresh = D.call("GET", "/v1/offers", "siaod_" + "0" * 40, timeout=TIMEOUT)
        if fresh.status not in (503, 401):
            problems.append("unknown token while down: %r" % fresh)
        ready_answers = []
        while time.monotonic() - t_down < DOWN_SECONDS:
            ready_answers.append(readyz())
            time.sleep(0.25)
    finally:
        t_start = time.monotonic()
        PG.start()
    t_up = time.monotonic()

    # Recovery: the first acknowledged write and /readyz 200, measured from the
    # moment PostgreSQL accepts connections again.
    first_write = first_ready = None
    n = 0
    deadline = t_up + 15
    while (first_write is None or first_ready is None) and time.monotonic() < deadline:
        if first_write is None:
            n += 1
            r = http_call(D.port, "POST", "/v1/offers", ADMIN, dict(offer_body("retour %d" % n), porteur_id=P1),
                          timeout=TIMEOUT)
            if r.status == 201:
                first_write = time.monotonic()
            elif r.status != 503:
                problems.append("write during recovery: %r" % r)
        if first_ready is None and readyz().status == 200:
            first_ready = time.monotonic()
        time.sleep(0.02)
    time.sleep(1.0)
    load.finish()

    assert first_write is not None and first_ready is not None, \
        "siaod did not recover within 15 s of PostgreSQL: %s" % D.log_tail()
    write_s, ready_s = first_write - t_up, first_ready - t_up
    print("      MEASURE recovery after PostgreSQL restart: first write acknowledged %.2f s, /readyz 200 %.2f s "
          "after PostgreSQL accepted connections (%.2f s / %.2f s after pg_ctl start was issued; outage %.1f s)"
          % (write_s, ready_s, first_write - t_start, first_ready - t_start, t_start - t_stop), flush=True)

    # While down: reads 200 from memory, writes 503 + Retry-After, readyz 503.
    margin = 0.3   # connections being torn down right after pg_ctl returns
    down = load.between(t_down + margin, t_start)
    reads = [x for x in down if x[0] == "read"]
    writes = [x for x in down if x[0] == "write"]
    assert len(reads) >= 100 and len(writes) >= 20, "too little load while down: %d reads, %d writes" % (
        len(reads), len(writes))
    bad_reads = [x for x in reads if x[3] != 200]
    if bad_reads:
        problems.append("%d of %d reads failed while PostgreSQL was down, e.g. %r" % (
            len(bad_reads), len(reads), bad_reads[0][4] or bad_reads[0][3]))
    for x in writes:
        r = x[4]
        if r is None or r.status != 503 or not r.headers.get("Content-Type", "").startswith("application/problem+json") \
                or int(r.headers.get("Retry-After", "0") or 0) <= 0:
            problems.append("a write while down did not get 503 problem+json with Retry-After: %r" % (r or x[3]))
            break
    if any(a.status != 503 or "Retry-After" not in a.headers for a in ready_answers):
        problems.append("/readyz while down: %r" % [a.status for a in ready_answers])
    # At any time: no 500, no exception (hang, dropped connection), no slow answer.
    with load.lock:
        records = list(load.records)
    for kind, t0, t1, st, r in records:
        if not isinstance(st, int):
            problems.append("%s call failed at t=%+.2f s (stop at 0): %r" % (kind, t0 - t_stop, st))
        elif st >= 500 and st != 503:
            problems.append("%s answered %d at t=%+.2f s: %s" % (kind, st, t0 - t_stop, r.text[:200]))
        elif st not in (200, 201, 503):
            problems.append("%s answered %d at t=%+.2f s: %s" % (kind, st, t0 - t_stop, r.text[:200]))
        if t1 - t0 > TIMEOUT - 0.5:
            problems.append("%s took %.1f s at t=%+.2f s" % (kind, t1 - t0, t0 - t_stop))
    assert not problems, "\n".join(problems[:20])
    assert write_s <= RECOVERY_MAX, "first acknowledged write %.2f s after PostgreSQL came back (max %.1f)" % (
        write_s, RECOVERY_MAX)
    assert ready_s <= RECOVERY_MAX, "/readyz 200 %.2f s after PostgreSQL came back (max %.1f)" % (ready_s, RECOVERY_MAX)

    # The same process all along.
    assert D.running() and D.pid == pid, "siaod was restarted or died"
    assert D.log_text().count("event=listening") == 1, "siaod started more than once"

    # Every acknowledged write is in the database; the unacknowledged ones that
    # committed anyway can only be those cut off as PostgreSQL went down.
    for what, table, col in (("offer", "offers", "label"), ("youth", "youth", "ref")):
        acked = set(load.acked[what])
        rows = {int(x) for x in DB.sql("SELECT id FROM %s WHERE %s LIKE 'charge%%'" % (table, col))}
        lost = acked - rows
        assert not lost, "acknowledged %s writes lost: %r" % (what, sorted(lost)[:10])
        edge = [x for x in records if x[0] == "write" and x[1] <= t_down and x[2] >= t_stop]
        assert len(rows - acked) <= len(edge), "%d %s rows nobody was told about" % (len(rows - acked), what)

    # The key refused while down is free: the retry is a first request, then a replay.
    idem = {"Idempotency-Key": "outage-key-1"}
    first = expect(D.call("POST", "/v1/offers", PT, offer_body("idem"), headers=idem), 201)
    again = expect(D.call("POST", "/v1/offers", PT, offer_body("idem"), headers=idem), 201)
    assert again.json["id"] == first.json["id"] and again.headers.get("Idempotent-Replayed") == "true", again


@test
def after_the_outage_inventory_and_notifications_are_live_again():
    # A write through siaod shows at once in matches...
    yid = YOUTH[0]
    o = expect(D.call("POST", "/v1/offers", PT, dict(offer_body("après panne"), commune_insee="34108")), 201).json
    m = expect(D.call("GET", "/v1/youth/%d/matches?limit=200" % yid, REF), 200).json
    assert o["id"] in [i["offer_id"] for i in m["items"]], "a new offer is missing from matches after the outage"
    # ...and the change table is read again: a change made behind siaod's back
    # (another instance, psql) reaches its inventory.
    DB.sql("UPDATE offers SET capacity = 7, version = version + 1 WHERE id = %d" % o["id"])
    eventually(lambda: D.call("GET", "/v1/offers/%d" % o["id"], REF).json["capacity"] == 7, timeout=2,
               interval=0.05, msg="a change after the outage reaching the inventory")
    assert "conn=listener" in D.log_text(), "no listener reconnection logged"


@test
def a_second_outage_while_idle_then_a_clean_sigterm():
    # Down and up again with no traffic at all: the pool notices on its own.
    PG.stop("fast")
    eventually(lambda: readyz().status == 503, timeout=3, interval=0.05, msg="/readyz 503")
    expect(D.call("GET", "/v1/youth/%d/matches" % YOUTH[1], REF), 200)
    expect_problem(D.call("PATCH", "/v1/youth/%d" % YOUTH[1], REF, {"wanted_months": 3}), 503)
    t = time.monotonic()
    PG.start()
    eventually(lambda: D.call("PATCH", "/v1/youth/%d" % YOUTH[1], REF, {"wanted_months": 3}).status == 200,
               timeout=RECOVERY_MAX, interval=0.05, msg="a write within %.0f s" % RECOVERY_MAX)
    print("      MEASURE idle recovery: first write %.2f s after PostgreSQL accepted connections"
          % (time.monotonic() - t), flush=True)
    # SIGTERM while the database is down must still exit cleanly.
    PG.stop("fast")
    code = D.stop(signal.SIGTERM, timeout=15)
    assert code == 0, "siaod exited with %s after SIGTERM with PostgreSQL down:\n%s" % (code, D.log_tail())
    PG.start()


if __name__ == "__main__":
    run_all(setup)
