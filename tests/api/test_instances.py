"""
Two siaod instances on one database, as a deployment behind a load balancer
runs them.

- Inventory: a write on one instance (an offer near a young person, a young
  person, a placement taking an offer's last place) shows in the matches of
  the other within 1 s (the change table, sql/022: no NOTIFY). The
  propagation times are measured and printed (median and max over 20
  offers, 10 placements). While placements are made on both instances, with
  a webhook subscribed to them, a session LISTENing on the old channels
  hears nothing (but the probe the test sends itself), and the other
  instance still sees each within 1 s.
- Webhooks: a burst of events written through both instances, one receiver
  (http.server on 127.0.0.1) answering 204 at once: every event is enqueued
  once (outbox dedup keys), fanned out once, delivered once (one attempt per
  delivery: no delivery attempted by both instances), received once.
- Alerts: both instances run the alert scan at the same test-clock offset
  (SIGHUP to both at once): each stay.ending_soon is enqueued once per
  threshold, and delivered once.
"""
import datetime
import http.server
import json
import os
import signal
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Daemon, Database, eventually, expect, run_all, test  # noqa: E402

DB = None
A = B = None
CONF = None
ADMIN = REF = None
P1 = None
TODAY = None
RECEIVER = None
SETE, FRONTIGNAN = "34301", "34108"
PROPAGATION_MAX = 1.0


def write_conf(offset):
    with open(CONF, "w") as f:
        f.write("# written by test_instances.py\ntest_clock_offset_days = %d\n" % offset)


def setup():
    global DB, A, B, CONF, ADMIN, REF, P1, TODAY, RECEIVER
    DB = Database("instances")
    # offers registered on day 0 must not go stale (rule stale) as the test clock moves; freshness is test_imports.py's
    env = {"SIAOD_WEBHOOK_ALLOW_PRIVATE": "true", "SIAOD_WEBHOOK_RETRY_SCHEDULE": "1s,1s,2s,5s",
           "SIAOD_RECONFIRM_DAYS": "3650"}
    A = Daemon(DB, env=env, name="a", start=False)
    CONF = os.path.join(A.dir, "siaod.conf")
    write_conf(0)
    A.args = ["--config", CONF]
    A.start()
    B = Daemon(DB, env=env, args=["--config", CONF], name="b")
    ADMIN = A.token("admin", label="admin")
    REF = A.token("referent", departements=("34",), label="ref34")
    TODAY = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    P1 = expect(A.call("POST", "/v1/porteurs", ADMIN, {"name": "Habitat Sète", "departement": "34"}), 201).json["id"]
    RECEIVER = Receiver()


def day(n=0):
    return (TODAY + datetime.timedelta(days=n)).isoformat()


SEQ = [0]


def youth_body(**over):
    SEQ[0] += 1
    b = {"ref": "I-%05d" % SEQ[0], "departement": "34", "birth_date": TODAY.replace(year=TODAY.year - 20, day=1).isoformat(),
         "gender": "female", "situation": "street", "commune_insee": SETE}
    b.update(over)
    return b


def offer_body(**over):
    b = {"porteur_id": P1, "kind": "iml", "label": "Offre", "commune_insee": FRONTIGNAN, "capacity": 1}
    b.update(over)
    return b


# ---------------------------------------------------------------- a webhook receiver

class Receiver:
    """http.server on 127.0.0.1 answering 204 at once, recording what arrives."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []      # (webhook-id, type, data, monotonic time)
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                try:
                    j = json.loads(body)
                except ValueError:
                    j = {}
                with rec.lock:
                    rec.records.append((self.headers.get("webhook-id"), j.get("type"), j.get("data"), time.monotonic()))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hooks" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self):
        with self.lock:
            return [r[0] for r in self.records]


# ---------------------------------------------------------------- inventory propagation

def visible_in_matches(daemon_client, yid, oid):
    r = daemon_client.call("GET", "/v1/youth/%d/matches?limit=200" % yid, REF)
    if r.status == 404:
        return False
    expect(r, 200)
    return oid in [i["offer_id"] for i in r.json["items"]]


def wait_for(cond, timeout=5.0):
    """Seconds until cond() holds (polled as fast as siaod answers), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.002)
    return None


def summary(label, times):
    print("      MEASURE %s: median %.0f ms, max %.0f ms over %d (min %.0f ms)" % (
        label, statistics.median(times) * 1e3, max(times) * 1e3, len(times), min(times) * 1e3), flush=True)


@test
def a_young_person_written_on_one_instance_is_matched_on_the_other():
    ca, cb = Client(A), Client(B)
    times = []
    for i in range(5):
        src, dst = (ca, cb) if i % 2 == 0 else (cb, ca)
        y = expect(src.call("POST", "/v1/youth", REF, youth_body()), 201).json
        t = wait_for(lambda: dst.call("GET", "/v1/youth/%d/matches" % y["id"], REF).status == 200)
        assert t is not None, "young person %d never reached the other instance" % y["id"]
        times.append(t)
    summary("youth propagation between instances", times)
    assert max(times) <= PROPAGATION_MAX, times


@test
def an_offer_written_on_one_instance_is_matched_on_the_other_within_1_s():
    ca, cb = Client(A), Client(B)
    y = expect(ca.call("POST", "/v1/youth", REF, youth_body()), 201).json["id"]
    assert wait_for(lambda: cb.call("GET", "/v1/youth/%d/matches" % y, REF).status == 200) is not None
    times = []
    for i in range(20):
        src, dst = (ca, cb) if i % 2 == 0 else (cb, ca)
        o = expect(src.call("POST", "/v1/offers", ADMIN, offer_body(label="Propagation %d" % i, capacity=2)), 201).json
        # the writer sees it at once (its own inventory, before the answer)...
        assert visible_in_matches(src, y, o["id"]), "offer %d missing on the instance that wrote it" % o["id"]
        # ...the other through the change table
        t = wait_for(lambda: visible_in_matches(dst, y, o["id"]))
        assert t is not None, "offer %d never reached the other instance" % o["id"]
        times.append(t)
    summary("offer propagation between instances (create -> other's matches)", times)
    slow = [round(t, 3) for t in times if t > PROPAGATION_MAX]
    assert not slow, "propagation above %.1f s: %r" % (PROPAGATION_MAX, slow)


@test
def a_placement_taking_the_last_place_leaves_the_other_instances_matches_within_1_s():
    ca, cb = Client(A), Client(B)
    times = []
    for i in range(10):
        src, dst = (ca, cb) if i % 2 == 0 else (cb, ca)
        taker = expect(src.call("POST", "/v1/youth", REF, youth_body()), 201).json["id"]
        other = expect(src.call("POST", "/v1/youth", REF, youth_body()), 201).json["id"]
        o = expect(src.call("POST", "/v1/offers", ADMIN, offer_body(label="Dernière place %d" % i)), 201).json["id"]
        assert wait_for(lambda: visible_in_matches(dst, other, o)) is not None, "offer %d never reached the other" % o
        expect(src.call("POST", "/v1/placements", REF, {"youth_id": taker, "offer_id": o, "start_date": day(0)}), 201)
        assert not visible_in_matches(src, other, o), "the writer still offers the taken place"
        t = wait_for(lambda: not visible_in_matches(dst, other, o))
        assert t is not None, "the taken place of offer %d is still offered by the other instance" % o
        times.append(t)
        # and the other instance refuses a second proposal (the database decides)
        r = dst.call("POST", "/v1/placements", REF, {"youth_id": other, "offer_id": o, "start_date": day(0)})
        expect(r, 409)
    summary("last place taken on one instance -> gone from the other's matches", times)
    slow = [round(t, 3) for t in times if t > PROPAGATION_MAX]
    assert not slow, "propagation above %.1f s: %r" % (PROPAGATION_MAX, slow)


# ---------------------------------------------------------------- webhooks

def delivery_state():
    rows = DB.sql("SELECT d.id, d.status, d.attempts, e.event_id, e.type, "
                  "(SELECT count(*) FROM delivery_attempts a WHERE a.delivery_id = d.id) "
                  "FROM deliveries d JOIN outbox e ON e.id = d.outbox_id ORDER BY d.id")
    return [r.split("|") for r in rows]


def all_delivered():
    unready = int(DB.sql("SELECT count(*) FROM outbox WHERE NOT ready")[0])
    st = delivery_state()
    return unready == 0 and st and all(r[1] == "succeeded" for r in st) and len(RECEIVER.ids()) >= len(st)


def wait_all_delivered(timeout=30):
    try:
        eventually(all_delivered, timeout=timeout, interval=0.2, msg="every event delivered")
    except AssertionError as e:
        st = delivery_state()
        unready = DB.sql("SELECT id, type, occurred_at FROM outbox WHERE NOT ready")
        stuck = DB.sql("SELECT d.id, d.status, d.attempts, d.next_attempt_at, d.lease_until, d.last_error, e.type "
                       "FROM deliveries d JOIN outbox e ON e.id = d.outbox_id WHERE d.status <> 'succeeded'")
        by = DB.sql("SELECT status, count(*), min(next_attempt_at), max(lease_until) FROM deliveries GROUP BY 1")
        raise AssertionError("%s\n%d deliveries, %d received; outbox not ready: %r\nby status: %r\n"
                             "not succeeded: %r" % (e, len(st), len(RECEIVER.ids()), unready[:10], by,
                                                    [x for x in stuck if "|delivering|" in x][:10] + stuck[:5]))


def check_delivered_once():
    """Every delivery succeeded at its first and only attempt, and arrived once."""
    st = delivery_state()
    problems = []
    for did, status, attempts, event_id, etype, n_attempts in st:
        if status != "succeeded" or attempts != "1" or n_attempts != "1":
            problems.append("delivery %s (%s): status %s, attempts %s, %s attempt rows" % (
                did, etype, status, attempts, n_attempts))
    got = RECEIVER.ids()
    dups = sorted({i for i in got if got.count(i) > 1})
    if dups:
        problems.append("events received more than once: %r" % dups[:10])
    want = {r[3] for r in st}
    if set(got) != want:
        problems.append("received %d distinct events, %d deliveries; missing %r, unexpected %r" % (
            len(set(got)), len(want), sorted(want - set(got))[:5], sorted(set(got) - want)[:5]))
    dk = DB.sql("SELECT dedup_key, count(*) FROM outbox GROUP BY dedup_key HAVING count(*) > 1")
    if dk:
        problems.append("dedup keys enqueued twice: %r" % dk[:5])
    fan = DB.sql("SELECT outbox_id, webhook_id, count(*) FROM deliveries GROUP BY 1, 2 HAVING count(*) > 1")
    if fan:
        problems.append("events fanned out twice to one subscription: %r" % fan[:5])
    assert not problems, "\n".join(problems[:20])
    return st


def attempts_by_instance():
    return {d.name: d.log_text().count("event=webhook_attempt") for d in (A, B)}


@test
def a_burst_of_events_through_both_instances_is_delivered_exactly_once():
    r = expect(A.call("POST", "/v1/webhooks", ADMIN, {"url": RECEIVER.url, "label": "both", "event_types": [
        "stay.ending_soon", "stay.overdue", "offer.capacity_available", "placement.status_changed",
        "hold.expired"]}), 201)
    sub = r.json["id"]
    errors = []

    def writer(d, k):
        c = Client(d)
        try:
            for i in range(8):
                o = expect(c.call("POST", "/v1/offers", ADMIN, offer_body(label="Rafale %d-%d" % (k, i), capacity=2)),
                           201).json["id"]
                y = expect(c.call("POST", "/v1/youth", REF, youth_body()), 201).json["id"]
                p = expect(c.call("POST", "/v1/placements", REF, {"youth_id": y, "offer_id": o,
                                                                  "start_date": day(0)}), 201).json["id"]
                if i % 2 == 0:
                    expect(c.call("POST", "/v1/placements/%d/accept" % p, ADMIN), 200)
        except Exception as e:
            errors.append(e)
        finally:
            c.close()
    threads = [threading.Thread(target=writer, args=(d, k)) for k, d in enumerate((A, B, A, B))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    wait_all_delivered()
    time.sleep(1.5)       # anything attempted twice would show now
    st = check_delivered_once()
    types = {}
    for row in st:
        types[row[4]] = types.get(row[4], 0) + 1
    assert types.get("offer.capacity_available", 0) >= 32 and types.get("placement.status_changed", 0) >= 48, types
    assert all(r[0] == str(sub) for r in DB.sql("SELECT webhook_id FROM deliveries")), "deliveries to another subscription"
    # the candidates were added once, by one instance: each such event carries its list
    with RECEIVER.lock:
        caps = [r for r in RECEIVER.records if r[1] == "offer.capacity_available"]
    assert caps and all(isinstance(r[2].get("candidates"), list) for r in caps), caps[:2]
    print("      %d deliveries %r; attempts per instance %r" % (len(st), types, attempts_by_instance()), flush=True)


# ---------------------------------------------------------------- no NOTIFY per placement

class Listener:
    """A psql session LISTENing on the channels siaod used to notify per write
    (and siaod_auth, for the probe), for `seconds`; notifications() after."""

    def __init__(self, seconds):
        import subprocess
        script = ("LISTEN siaod_inventory; LISTEN siaod_outbox; LISTEN siaod_auth;\n"
                  "SELECT 'listening';\nSELECT pg_sleep(%s);\nSELECT 'done';\n" % seconds)
        self.p = subprocess.Popen(["psql", "-X", "-At", "-d", DB.url], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.p.stdin.write(script)
        self.p.stdin.close()
        eventually(lambda: DB.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%s)%%' "
                                  "AND state = 'active'" % seconds) == ["1"], timeout=5, msg="the listener waiting")

    def notifications(self):
        out = self.p.stdout.read()       # (stdin is closed: communicate() would flush it)
        self.p.wait(60)
        assert "done" in out, out
        return [line for line in out.splitlines() if line.startswith("Asynchronous notification")]


@test
def placements_on_both_instances_notify_nobody_and_reach_the_other_within_1_s():
    # a subscription to placement events (the outbox's fan-out used to NOTIFY for
    # each): the burst's, still active (one only: the next test counts receptions)
    subs = DB.sql("SELECT id FROM webhooks WHERE status = 'active' AND 'placement.status_changed' = ANY (event_types)")
    if not subs:
        expect(A.call("POST", "/v1/webhooks", ADMIN, {"url": RECEIVER.url, "label": "no notify",
                                                      "event_types": ["placement.status_changed"]}), 201)
    assert len(DB.sql("SELECT id FROM webhooks WHERE status = 'active'")) == 1
    ca, cb = Client(A), Client(B)
    pairs = []
    for i in range(6):
        src = ca if i % 2 == 0 else cb
        taker = expect(src.call("POST", "/v1/youth", REF, youth_body()), 201).json["id"]
        other = expect(src.call("POST", "/v1/youth", REF, youth_body()), 201).json["id"]
        o = expect(src.call("POST", "/v1/offers", ADMIN, offer_body(label="Sans NOTIFY %d" % i)), 201).json["id"]
        pairs.append((taker, other, o))
    for taker, other, o in pairs:
        for c in (ca, cb):
            assert wait_for(lambda: visible_in_matches(c, other, o)) is not None, "offer %d not everywhere" % o
    listener = Listener(6)
    times = []
    answered = {}
    t_start = time.monotonic()
    for i, (taker, other, o) in enumerate(pairs):
        src, dst = (ca, cb) if i % 2 == 0 else (cb, ca)
        h = {"Idempotency-Key": "no-notify-%d" % taker}
        pid = expect(src.call("POST", "/v1/placements", REF, {"youth_id": taker, "offer_id": o,
                                                              "start_date": day(0)}, headers=h), 201).json["id"]
        answered[pid] = time.monotonic()
        t = wait_for(lambda: not visible_in_matches(dst, other, o))
        assert t is not None, "the taken place of offer %d is still offered by the other instance" % o
        times.append(t)
    # the probe: the listener does hear a notification when there is one
    DB.sql("SELECT pg_notify('siaod_auth', 'probe-of-the-test')")
    assert time.monotonic() - t_start < 5.5, "the placements took longer than the listener listened"
    heard = listener.notifications()
    summary("placement on one instance -> gone from the other's matches, no NOTIFY", times)
    assert len(heard) == 1 and "probe-of-the-test" in heard[0], "notifications heard: %r" % heard
    slow = [round(t, 3) for t in times if t > PROPAGATION_MAX]
    assert not slow, "propagation above %.1f s: %r" % (PROPAGATION_MAX, slow)
    # the events were written (and fanned out) all the same
    n = DB.sql("SELECT count(*) FROM deliveries d JOIN outbox e ON e.id = d.outbox_id "
               "WHERE e.type = 'placement.status_changed' AND (e.data->>'offer_id')::bigint IN (%s)"
               % ",".join(str(o) for _, _, o in pairs))
    assert n == [str(len(pairs))], n
    # and delivered without a wake-up by NOTIFY: the writer wakes its own
    # delivery after the commit, every instance polls every 500 ms
    wait_all_delivered()
    with RECEIVER.lock:
        got = {r[2]["placement_id"]: r[3] for r in RECEIVER.records
               if r[1] == "placement.status_changed" and r[2].get("placement_id") in answered}
    assert set(got) == set(answered), (sorted(got), sorted(answered))
    lat = [got[p] - answered[p] for p in answered]
    summary("placement answered -> its webhook received (no NOTIFY)", [max(x, 0) for x in lat])
    assert max(lat) <= 1.5, lat


# ---------------------------------------------------------------- the alert scan on both instances

def reload_both():
    marks = {d: len(d.log_text()) for d in (A, B)}
    A.send_signal(signal.SIGHUP)
    B.send_signal(signal.SIGHUP)
    for d, mark in marks.items():
        m = d.wait_log(r"event=reload result=(\w+)", timeout=5, after=mark)
        assert m and m.group(1) == "ok", "%s: reload not applied: %s" % (d.name, d.log_tail())
    return marks


def ending_soon(pids):
    rows = DB.sql("SELECT (data->>'placement_id')::bigint, (data->>'threshold_days')::int, count(*) FROM outbox "
                  "WHERE type = 'stay.ending_soon' AND (data->>'placement_id')::bigint IN (%s) GROUP BY 1, 2"
                  % ",".join(map(str, pids)))
    return [tuple(int(x) for x in r.split("|")) for r in rows]


@test
def both_instances_scanning_at_the_same_clock_enqueue_each_alert_once():
    ca, cb = Client(A), Client(B)
    pids = []
    for i in range(12):
        c = ca if i % 2 == 0 else cb
        o = expect(c.call("POST", "/v1/offers", ADMIN, offer_body(label="Séjour %d" % i, kind="alt", max_stay_days=40)),
                   201).json["id"]
        y = expect(c.call("POST", "/v1/youth", REF, youth_body()), 201).json["id"]
        p = expect(c.call("POST", "/v1/placements", REF, {"youth_id": y, "offer_id": o, "start_date": day(0)}), 201).json
        expect(c.call("POST", "/v1/placements/%d/accept" % p["id"], ADMIN), 200)
        e = expect(c.call("POST", "/v1/placements/%d/enter" % p["id"], ADMIN, {}), 200).json
        assert e["status"] == "active" and e["planned_end_date"] == day(40), e
        pids.append(p["id"])
    assert ending_soon(pids) == [], "alerts 40 days before the end"
    # 25 days left on both clocks: the 30-day threshold, once per stay
    for offset, threshold in ((15, 30), (30, 14)):
        write_conf(offset)
        for _ in range(3):             # the same scan, run again and again, on both at once
            reload_both()
            time.sleep(0.3)
        got = eventually(lambda: (lambda g: g if sum(n for _, t, n in g if t == threshold) >= len(pids) else None)(
            ending_soon(pids)), timeout=5, msg="stay.ending_soon (%d days) for every stay" % threshold)
        per = {}
        for pid, t, n in got:
            assert n == 1, "stay.ending_soon for placement %d, threshold %d enqueued %d times" % (pid, t, n)
            per.setdefault(t, set()).add(pid)
        assert per.get(threshold) == set(pids), per
    assert sorted(per) == [14, 30], per
    wait_all_delivered()
    time.sleep(1.5)
    check_delivered_once()
    with RECEIVER.lock:
        alerts = [r for r in RECEIVER.records if r[1] == "stay.ending_soon" and r[2]["placement_id"] in pids]
    assert len(alerts) == 2 * len(pids), "%d alerts received for %d stays x 2 thresholds" % (len(alerts), len(pids))
    # the holds of the burst expired on both clocks too: once each
    dup = DB.sql("SELECT data->>'placement_id', count(*) FROM outbox WHERE type = 'hold.expired' GROUP BY 1 HAVING count(*) > 1")
    assert not dup, dup
    print("      attempts per instance %r" % attempts_by_instance(), flush=True)


if __name__ == "__main__":
    run_all(setup)
